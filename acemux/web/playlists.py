"""M3U playlists for players, their links pointed at acemux.

- `/playlist/<name>.m3u`: a configured source with every stream link made an
  acemux TS link (HLS links with `?format=hls`); nothing else changes but a
  `#KODIPROP:mimetype=video/mp2t` line before each TS link, for Kodi.
  `?only=live`: its named channels instead, only those seen working lately.
- `/playlist.m3u`: the channels played lately, for a quick try in a player.
- `/api/v1/playlists`: each source's fetch status; `/api/v1/playlists/<name>/channels`:
  its channels as the lineup numbers and names them, for the dashboard's Watch buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import AsyncIterator

from aiohttp import web

from acemux.errors import BadRequest, NotFound
from acemux.playlists.m3u import TS_MIMETYPE_TAG, StreamLink
from acemux.playlists.recent import RecentChannels
from acemux.playlists.sources import PlaylistSources
from acemux.streaming.key import ChannelKey
from acemux.web.auth import own_token
from acemux.web.channels import channels_m3u, refresh
from acemux.web.keys import DIRECTORY, GUIDES, PLAYLISTS, RECENT, REGISTRY, SETTINGS
from acemux.web.tuner import numbered_playlist
from acemux.web.urls import public_base, stream_url

M3U_TYPE = "audio/x-mpegurl"
NO_CACHE = {"Cache-Control": "no-cache"}
FORMATS = ("ts", "hls")
# Responses that mean a player got a channel: they feed /playlist.m3u.
STREAM_PATHS = frozenset({"/ace/getstream", "/ace/manifest.m3u8"})
STREAM_PATH_PREFIX = "/ace/getstream/"

routes = web.RouteTableDef()


def _channel_url(request: web.Request) -> tuple[bool, Callable[[ChannelKey], str]]:
    """How this request's playlist links a channel: TS or HLS, and the link (base, token)."""
    fmt = request.query.get("format", "ts")
    if fmt not in FORMATS:
        raise BadRequest("format must be ts or hls")
    profile = request.query.get("profile", "")
    if profile and profile not in request.app[REGISTRY].profiles.names():
        raise BadRequest(f"unknown profile {profile[:32]!r}")
    settings = request.app[SETTINGS]
    base = public_base(request, settings.trust_forwarded_headers, settings.public_url)
    token = own_token(request)
    ts = fmt == "ts"
    # `?profile=` gives every link of this playlist that profile (e.g. aac for a browser).
    return ts, lambda key: stream_url(
        base, key.with_profile(profile) if profile else key, token, hls=not ts
    )


@routes.get("/playlist/{name}.m3u")
async def named_playlist(request: web.Request) -> web.Response:
    ts, channel_url = _channel_url(request)
    name = request.match_info["name"]
    template = await request.app[PLAYLISTS].template(name)
    if template is None:
        raise NotFound(f"no playlist named {name!r} is configured")
    only = request.query.get("only")
    if only is not None:
        if only != "live":
            raise BadRequest("only must be live")
        return await _live_channels(request, name, ts, channel_url)

    def new_url(link: StreamLink) -> str | None:
        try:
            key = ChannelKey.from_query(dict(link.params), link.path_id)
        except BadRequest:
            return None  # no usable id in it: the link is kept as it is
        return channel_url(key)

    body = await numbered_playlist(request, name, template.render(new_url, mark_ts=ts))
    return web.Response(body=body, content_type=M3U_TYPE, headers=NO_CACHE)


async def _live_channels(
    request: web.Request, name: str, ts: bool, channel_url: Callable[[ChannelKey], str]
) -> web.Response:
    """The playlist's named channels (one line each, however many ids), the live ones only."""
    catalogue = await refresh(request.app)
    live = [c for c in catalogue.from_playlist(name) if catalogue.live(c)]
    text = channels_m3u(live, lambda channel: channel_url(channel.key), mark_ts=ts)
    return web.Response(text=text, content_type=M3U_TYPE, headers=NO_CACHE)


@routes.get("/playlist.m3u")
async def recent_playlist(request: web.Request) -> web.Response:
    ts, channel_url = _channel_url(request)
    playing = [session.key for session in request.app[REGISTRY].sessions()]
    keys = dict.fromkeys([*request.app[RECENT].keys(), *playing])
    lines = ["#EXTM3U"]
    for key in keys:
        lines.append(f"#EXTINF:-1,{key.name}")
        if ts:
            lines.append(TS_MIMETYPE_TAG.decode())
        lines.append(channel_url(key))
    return web.Response(text="\n".join(lines) + "\n", content_type=M3U_TYPE, headers=NO_CACHE)


@routes.get("/api/v1/playlists")
async def playlist_status(request: web.Request) -> web.Response:
    catalogue = await refresh(request.app)
    playlists = request.app[PLAYLISTS].describe()
    for playlist in playlists:  # entries not read, or not made channel sources, and why
        playlist["skipped"] = catalogue.skipped.get(playlist["name"], [])
    return web.json_response({"playlists": playlists, "guides": request.app[GUIDES].describe()})


# {playlist}: the user check lets a user list only the playlists it may see.
@routes.get("/api/v1/playlists/{playlist}/channels")
async def playlist_channels(request: web.Request) -> web.Response:
    name = request.match_info["playlist"]
    if name not in request.app[PLAYLISTS].names:
        raise NotFound(f"no playlist named {name!r} is configured")
    lineup = await request.app[DIRECTORY].lineup()
    channels = [
        {**c.describe(), "id": c.key.value, "selector": c.key.kind, "key": c.key.name}
        for c in lineup.of_playlist(name)
    ]
    return web.json_response({"playlist": name, "channels": channels})


async def _note_played(request: web.Request, response: web.StreamResponse) -> None:
    """A TS stream or HLS playlist is starting: remember its channel for /playlist.m3u."""
    if response.status != 200 or request.method != "GET":
        return  # a HEAD is a player's probe: it played nothing
    path = request.path
    if path in STREAM_PATHS:
        request.app[RECENT].note(ChannelKey.from_query(request.query))
    elif path.startswith(STREAM_PATH_PREFIX):
        key = ChannelKey.from_query(request.query, request.match_info["content_id"])
        request.app[RECENT].note(key)


async def _sources(app: web.Application) -> AsyncIterator[None]:
    await app[PLAYLISTS].open()
    yield
    await app[PLAYLISTS].close()


def setup(app: web.Application) -> None:
    """Playlist routes and state; needs SETTINGS and REGISTRY set."""
    app[PLAYLISTS] = PlaylistSources(app[SETTINGS])
    app[RECENT] = RecentChannels()
    app.add_routes(routes)
    app.cleanup_ctx.append(_sources)
    app.on_response_prepare.append(_note_played)
