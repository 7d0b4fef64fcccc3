"""HLS for players that want it: /ace/manifest.m3u8 and its segments, cut by acemux.

The channel is the same one TS viewers share (same key, same engine session);
the playlist and the segments are made from its ring (see segments.py), so
no URL ever points at the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Callable

from aiohttp import web

from acemux.errors import BadRequest, NotFound
from acemux.streaming.hls import HlsChannel, HlsChannels
from acemux.streaming.key import ChannelKey
from acemux.web.ace import MAX_QUERY_LENGTH
from acemux.web.auth import own_token, request_user
from acemux.web.keys import HLS, REGISTRY, SETTINGS, USERS
from acemux.web.urls import client_address, public_base, segment_url

if TYPE_CHECKING:
    from acemux.channels.failover import SourcePlan

PLAYLIST_HEADERS = {"Cache-Control": "no-cache, no-store"}
SEGMENT_HEADERS = {
    "Content-Type": "video/mp2t",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
MPEGURL = "application/vnd.apple.mpegurl"

routes = web.RouteTableDef()


def _channel_key(request: web.Request) -> ChannelKey:
    if len(request.query_string) > MAX_QUERY_LENGTH:
        raise BadRequest(f"query string too long (over {MAX_QUERY_LENGTH} characters)")
    return ChannelKey.from_query(request.query)


def _touch(request: web.Request, channel: HlsChannel) -> None:
    trusted = request.app[SETTINGS].trust_forwarded_headers
    channel.touch(client_address(request, trusted), request.headers.get("User-Agent", ""))


def _watching(request: web.Request, key: ChannelKey) -> None:
    """An HLS request is one of its user's streams while they keep coming (429 past the limit)."""
    if (user := request_user(request)) is not None:
        request.app[USERS].watch_hls(user, key.name)


@routes.get("/ace/manifest.m3u8")
async def manifest(request: web.Request) -> web.Response:
    return await serve_manifest(request, _channel_key(request))


async def serve_manifest(
    request: web.Request, key: ChannelKey, plan: "Callable[[], SourcePlan] | None" = None
) -> web.Response:
    """The channel's live HLS playlist; `plan` makes a named channel's source plan."""
    if request.method == "HEAD":
        # A probe: the playlist's headers without starting the channel at the engine.
        request.app[REGISTRY].check_profile(key)  # an unknown one is the GET's 400 too
        return web.Response(content_type=MPEGURL, headers=PLAYLIST_HEADERS)
    settings = request.app[SETTINGS]
    _watching(request, key)
    async with request.app[REGISTRY].channel(key, plan) as session:
        channel = request.app[HLS].attach(session)
        _touch(request, channel)
        # A single response: nothing is sent until a first segment exists.
        await channel.wait_ready(settings.prebuffer_timeout)
    base = public_base(request, settings.trust_forwarded_headers, settings.public_url)
    token = own_token(request)
    text = channel.segmenter.playlist(lambda number: segment_url(base, key, number, token))
    return web.Response(text=text, content_type=MPEGURL, headers=PLAYLIST_HEADERS)


@routes.get(r"/ace/segment/{number:\d{1,18}}.ts")
async def segment(request: web.Request) -> web.StreamResponse:
    return await serve_segment(request, _channel_key(request), int(request.match_info["number"]))


async def serve_segment(request: web.Request, key: ChannelKey, number: int) -> web.StreamResponse:
    channel = request.app[HLS].find(key)
    if channel is None:
        raise NotFound(f"channel {key.name} is not playing as HLS: load its manifest.m3u8")
    _watching(request, key)
    _touch(request, channel)
    found = channel.segmenter.get(number)
    pieces = channel.segmenter.pieces(found) if found is not None else None
    if pieces is None:
        raise NotFound(f"segment {number} of channel {key.name} is not available")
    resp = web.StreamResponse(headers=SEGMENT_HEADERS)
    resp.content_length = size = sum(len(piece) for piece in pieces)
    await resp.prepare(request)
    if request.method == "HEAD":
        return resp
    # References to the ring's chunks: every viewer of a segment is served from the same bytes.
    for piece in pieces:
        await resp.write(piece)
    await resp.write_eof()
    channel.bytes_sent += size
    return resp


@routes.get("/api/v1/hls")
async def hls_status(request: web.Request) -> web.Response:
    return web.json_response({"channels": request.app[HLS].describe()})


async def _let_go(app: web.Application) -> AsyncIterator[None]:
    yield
    app[HLS].close()


def setup(app: web.Application) -> None:
    """HLS routes and state; needs SETTINGS and REGISTRY set."""
    app[HLS] = HlsChannels(app[SETTINGS])
    app.add_routes(routes)
    app.cleanup_ctx.append(_let_go)
