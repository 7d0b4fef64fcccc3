"""HDHomeRun tuners over HTTP: one for every channel at the root, one per playlist.

`/discover.json`, `/lineup_status.json`, `/lineup.json`, `/device.xml` and
`POST /lineup.post` at the root (Plex asks for them at the address it is
given) and under `/hdhr/<playlist>/`; each also under `/t/<token>/` for media
servers that cannot add `?token=` to the paths they append. Links are
absolute, from `public_url` when set, and carry the asking user's own token.
"""

from __future__ import annotations

from typing import AsyncIterator
from urllib.parse import quote

from aiohttp import web

from acemux.errors import BadRequest, NotFound
from acemux.tuner import hdhr
from acemux.tuner.directory import ChannelDirectory
from acemux.tuner.lineup import Channel
from acemux.tuner.m3u_tags import tag_playlist
from acemux.web.auth import TOKEN, own_token, visible_playlists
from acemux.web.channels import failover_links
from acemux.web.keys import DIRECTORY, PLAYLISTS, SETTINGS
from acemux.web.urls import public_base, stream_url

SCANS = ("start", "abort")
NO_CACHE = {"Cache-Control": "no-cache"}
PREFIXES = ("", "/t/{token}")  # with the token in the path
TUNERS = ("", "/hdhr/{playlist}")


def acemux_base(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    return public_base(request, settings.trust_forwarded_headers, settings.public_url)


def token_query(request: web.Request, sep: str = "?") -> str:
    """`?token=…` for links, unless the token already rides in the path."""
    token = own_token(request)
    if not token or "token" in request.match_info:
        return ""
    return f"{sep}token={quote(token, safe='')}"


def _playlist(request: web.Request) -> str | None:
    """The tuner's playlist (None: every channel); 404 for a playlist not configured."""
    name = request.match_info.get("playlist")
    if name is not None and name not in request.app[PLAYLISTS].names:
        raise NotFound(f"no playlist named {name!r} is configured")
    return name


def _tuner_base(request: web.Request, playlist: str | None) -> str:
    base = acemux_base(request)
    if "token" in request.match_info:
        base += "/t/" + quote(request.match_info["token"], safe="")
    return base + (f"/hdhr/{playlist}" if playlist else "")


async def tuner_channels(request: web.Request, playlist: str | None) -> list[Channel]:
    """The tuner's channels the asking user may see, numbered as everywhere else."""
    lineup = await request.app[DIRECTORY].lineup()
    if playlist is not None:
        return lineup.of_playlist(playlist)
    allowed = set(visible_playlists(request, request.app[PLAYLISTS].names))
    return [c for c in lineup.channels if allowed.intersection(c.playlists)]


async def discover(request: web.Request) -> web.Response:
    playlist = _playlist(request)
    settings = request.app[SETTINGS]
    body = hdhr.discover(settings, playlist, _tuner_base(request, playlist), token_query(request))
    return web.json_response(body, headers=NO_CACHE)


async def lineup_status(request: web.Request) -> web.Response:
    _playlist(request)
    return web.json_response(hdhr.LINEUP_STATUS, headers=NO_CACHE)


async def lineup(request: web.Request) -> web.Response:
    # ?show=found|unprotected|all|demo: acemux has nothing hidden, every show is the lineup.
    playlist = _playlist(request)
    channels = await tuner_channels(request, playlist)
    base, token = acemux_base(request), own_token(request)
    # A channel with backup sources is linked as /channel/<slug>: it fails over.
    named = await failover_links(request)

    def url(channel: Channel) -> str:
        return stream_url(base, named(channel.tvg_id or channel.name, channel.key), token)

    rows = hdhr.lineup(channels, url)
    return web.json_response(rows, headers=NO_CACHE)


async def device_xml(request: web.Request) -> web.Response:
    playlist = _playlist(request)
    text = hdhr.device_xml(request.app[SETTINGS], playlist, _tuner_base(request, playlist))
    return web.Response(text=text, content_type="application/xml", headers=NO_CACHE)


async def lineup_post(request: web.Request) -> web.Response:
    """A channel scan: acemux's lineup is its playlists, so there is nothing to scan."""
    _playlist(request)
    scan = request.query.get("scan")
    if scan not in SCANS:
        raise BadRequest("scan must be start or abort")
    return web.Response(status=200)


async def numbered_playlist(request: web.Request, name: str, rendered: bytes) -> bytes:
    """A served M3U with the lineup's channel numbers and acemux's guide in its header."""
    playlist = await request.app[PLAYLISTS].playlist(name)
    lineup_now = await request.app[DIRECTORY].lineup()
    numbers = {}
    for ordinal, entry in enumerate(playlist.entries if playlist is not None else [], 1):
        channel = lineup_now.for_entry(entry)
        if channel is not None:
            numbers[ordinal] = channel.number
    guide_url = f"{acemux_base(request)}/epg/{name}.xml{token_query(request)}"
    return tag_playlist(rendered, numbers, guide_url)


async def _directory(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[DIRECTORY].close()


def setup(app: web.Application) -> None:
    """Tuner routes and the channel directory; needs PLAYLISTS set."""
    app[DIRECTORY] = ChannelDirectory(app[PLAYLISTS])
    app.cleanup_ctx.append(_directory)
    for prefix in PREFIXES:
        for tuner in TUNERS:
            at = prefix + tuner
            app.router.add_get(at + "/discover.json", discover)
            app.router.add_get(at + "/lineup_status.json", lineup_status)
            app.router.add_get(at + "/lineup.json", lineup)
            app.router.add_get(at + "/device.xml", device_xml)
            app.router.add_post(at + "/lineup.post", lineup_post)
