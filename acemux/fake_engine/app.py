"""The fake engine's aiohttp application: its routes and shared state."""

from __future__ import annotations

from aiohttp import web

from . import api, control
from .playback import handle_playback
from .state import STATE, EngineState


async def _allow_any_origin(request: web.Request, response: web.StreamResponse) -> None:
    # The real engine answers every request with this header.
    response.headers["Access-Control-Allow-Origin"] = "*"


def build_app(state: EngineState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    api.add_routes(app)
    app.router.add_get("/ace/r/{infohash}/{token}", handle_playback)
    control.add_routes(app)
    app.on_response_prepare.append(_allow_any_origin)
    return app
