"""/metrics for Prometheus and /readyz for load balancers and orchestrators."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from acemux.errors import EngineUnavailable
from acemux.web.keys import METRICS, POOL

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    # Text format, or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": content_type})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready while at least one engine answered its health checks."""
    pool = request.app[POOL]
    if not pool.any_healthy():
        states = "; ".join(
            f"{m.url}: {m.health.last_error or 'not checked yet'}" for m in pool.members
        )
        raise EngineUnavailable(f"no healthy engine ({states})")
    return web.json_response({"status": "ready", "engines": pool.describe()})
