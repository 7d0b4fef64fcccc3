"""The fake's own endpoints: set faults and read counters over HTTP.

``GET /fake/faults`` and ``POST /fake/faults`` (a JSON object of the faults to
change; answers the full set) and ``GET /fake/stats``. Not part of any real
engine: a proxy never calls them, tests and demos in other processes do.
"""

from __future__ import annotations

from aiohttp import web

from .state import STATE


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].faults.to_json())


async def post_faults(request: web.Request) -> web.Response:
    faults = request.app[STATE].faults
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of faults")
        faults.update(changes)
    except ValueError as err:  # includes malformed JSON
        return web.json_response({"error": str(err)}, status=400)
    return web.json_response(faults.to_json())


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats.to_json())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/fake/faults", get_faults)
    app.router.add_post("/fake/faults", post_faults)
    app.router.add_get("/fake/stats", get_stats)
