"""/metrics for Prometheus and /readyz for load balancers and orchestrators."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from acemux.errors import EngineUnavailable
from acemux.web.keys import HEALTH, METRICS

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    # Text format, or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": content_type})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready while at least one engine answered its last health check."""
    health = request.app[HEALTH]
    if not health.up:
        reason = health.last_error or "not checked yet"
        raise EngineUnavailable(f"no healthy engine: {health.engine.base_url}: {reason}")
    return web.json_response({"status": "ready", "engines": [health.describe()]})
