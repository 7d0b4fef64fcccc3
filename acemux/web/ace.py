"""The acexy-compatible surface: /ace/getstream (query, path and .ts forms) and /ace/status."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from aiohttp import web

from acemux.errors import BadRequest, NotFound
from acemux.logs import ids
from acemux.streaming.key import ChannelKey
from acemux.streaming.viewer import Viewer, enable_keepalive
from acemux.web.auth import request_user
from acemux.web.keys import DIRECTORY, REGISTRY, SETTINGS
from acemux.web.live import start_live_response

if TYPE_CHECKING:
    from acemux.channels.failover import SourcePlan

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 4096
STREAM_HEADERS = {
    "Content-Type": "video/mp2t",
    "Cache-Control": "no-cache, no-store",
    "X-Content-Type-Options": "nosniff",
}
FINISH_TIMEOUT = 2.0

routes = web.RouteTableDef()


def _channel_key(request: web.Request, path_id: str | None = None) -> ChannelKey:
    if len(request.query_string) > MAX_QUERY_LENGTH:
        raise BadRequest(f"query string too long (over {MAX_QUERY_LENGTH} characters)")
    return ChannelKey.from_query(request.query, path_id)


@routes.get("/ace/getstream")
async def getstream(request: web.Request) -> web.StreamResponse:
    return await stream(request, _channel_key(request))


# The .ts alias tells players that go by the URL (Jellyfin) that this is MPEG-TS. It
# must be registered before the plain path form, which would take "<id>.ts" as the
# id; decorators register from the bottom up.
@routes.get("/ace/getstream/{content_id}")
@routes.get("/ace/getstream/{content_id}.ts")
async def getstream_path(request: web.Request) -> web.StreamResponse:
    return await stream(request, _channel_key(request, request.match_info["content_id"]))


async def stream(
    request: web.Request, key: ChannelKey, plan: "Callable[[], SourcePlan] | None" = None
) -> web.StreamResponse:
    """Serve the channel's TS stream; `plan` makes a named channel's source plan."""
    if request.method == "HEAD":
        # Players probe with HEAD (Kodi's stat, Jellyfin's stream sharing check): the
        # GET's status and headers at once, no body, and no channel at the engine.
        request.app[REGISTRY].check_profile(key)  # an unknown one is the GET's 400 too
        request.app[REGISTRY].check_room(key)  # and a full acemux the GET's 503
        return web.Response(headers=STREAM_HEADERS)
    settings = request.app[SETTINGS]
    async with request.app[REGISTRY].channel(key, plan) as session:
        resp, transport, drain = await start_live_response(request, STREAM_HEADERS)
        if transport is None:
            return resp
        # Pause the transport at the same mark where acemux stops writing to it live.
        transport.set_write_buffer_limits(high=settings.client_high_water)
        enable_keepalive(transport)
        viewer = Viewer(
            transport,
            address=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""),
            user=user.name if (user := request_user(request)) else None,
        )
        log.info(
            "channel %s: viewer %d joined from %s",
            key.name,
            viewer.id,
            viewer.address,
            extra=ids(key.name, viewer.id),
        )
        try:
            await session.serve(viewer, drain)
        finally:
            log.info(
                "channel %s: viewer %d left (%s), %d bytes",
                key.name,
                viewer.id,
                viewer.end_reason or "disconnected",
                viewer.bytes_sent,
                extra=ids(key.name, viewer.id),
            )
        await _finish(resp, viewer)
    return resp


async def _finish(resp: web.StreamResponse, viewer: Viewer) -> None:
    """End the response cleanly when the socket still works; otherwise just close it."""
    if viewer.transport.is_closing():
        return
    try:
        async with asyncio.timeout(FINISH_TIMEOUT):
            await resp.write_eof()
    except (TimeoutError, ConnectionError):
        viewer.transport.abort()


@routes.get("/ace/status")
async def status(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    if not any(name in request.query for name in ("id", "content_id", "infohash")):
        return web.json_response({"streams": len(registry)})
    key = _channel_key(request)
    session = registry.find(key.value)
    if session is None:
        raise NotFound(f"stream {key.value} is not playing")
    channel = request.app[DIRECTORY].known(session.key.value)  # its playlist name and logo
    return web.json_response({**session.describe(), "channel": channel and channel.describe()})
