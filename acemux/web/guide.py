"""The guide as media servers read it: `/epg.xml` (every channel) and `/epg/<playlist>.xml`.

Each holds only the channels of its lineup (the ones the asking user may
see), with the M3U's tvg-ids. Also under `/t/<token>/` like the tuners.
"""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from acemux.errors import NotFound
from acemux.guide.sources import GuideSources
from acemux.web.auth import visible_playlists
from acemux.web.keys import GUIDES, PLAYLISTS, SETTINGS
from acemux.web.tuner import PREFIXES, tuner_channels

XML_TYPE = "application/xml"
NO_CACHE = {"Cache-Control": "no-cache"}


async def guide(request: web.Request) -> web.Response:
    playlist = request.match_info.get("playlist")
    if playlist is not None and playlist not in request.app[PLAYLISTS].names:
        raise NotFound(f"no playlist named {playlist!r} is configured")
    channels = await tuner_channels(request, playlist)
    names = (
        [playlist]
        if playlist is not None
        else visible_playlists(request, request.app[PLAYLISTS].names)
    )
    body = await request.app[GUIDES].document(names, channels)
    return web.Response(body=body, content_type=XML_TYPE, charset="utf-8", headers=NO_CACHE)


async def _guides(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[GUIDES].close()


def setup(app: web.Application) -> None:
    """Guide routes; needs PLAYLISTS and the tuner's directory set."""
    app[GUIDES] = GuideSources(app[SETTINGS], app[PLAYLISTS])
    for prefix in PREFIXES:
        app.router.add_get(prefix + "/epg.xml", guide)
        app.router.add_get(prefix + "/epg/{playlist}.xml", guide)
    app.cleanup_ctx.append(_guides)
