"""Named channels on the web: /channel/<slug> (TS), /channel/<slug>.m3u8 (HLS), the API.

A channel's URL stays the same whatever its sources are; the session behind
it (one per channel, keyed by its slug) plays the source its plan picks and
fails over to the next one with viewers kept (see channels/failover.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import AsyncIterator

from aiohttp import web

from acemux.channels.catalogue import Channel, ChannelCatalogue, slugify
from acemux.channels.failover import SourcePlan
from acemux.channels.warm import WarmChannels
from acemux.errors import AcemuxError, NotFound
from acemux.playlists.m3u import TS_MIMETYPE_TAG
from acemux.streaming.key import ChannelKey, profile_asked
from acemux.streaming.session import ChannelSession
from acemux.web import ace, hls
from acemux.web.api import STATES
from acemux.web.auth import request_user
from acemux.web.keys import CATALOGUE, PLAYLISTS, POOL, REGISTRY, SETTINGS, WARM

HLS_SUFFIX = ".m3u8"
TS_SUFFIX = ".ts"  # /channel/<slug>.ts: the TS stream, named so (Jellyfin goes by the name)

routes = web.RouteTableDef()


async def refresh(app: web.Application) -> ChannelCatalogue:
    """The catalogue, regrouped when a playlist was read anew (fetched when due)."""
    catalogue, sources = app[CATALOGUE], app[PLAYLISTS]
    read = []
    for name in sources.names:
        try:
            playlist = await sources.playlist(name)
        except AcemuxError:  # never read: its channels are unknown until it is
            continue
        if playlist is not None:
            read.append((name, playlist))
    catalogue.update(read)
    return catalogue


def plan_for(app: web.Application, channel: Channel) -> Callable[[], SourcePlan]:
    return lambda: SourcePlan(channel, app[CATALOGUE].book, app[SETTINGS])


@routes.get("/channel/{name}")
async def channel_stream(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    as_hls = name.endswith(HLS_SUFFIX)
    slug = name[: -len(HLS_SUFFIX)] if as_hls else name.removesuffix(TS_SUFFIX)
    channel = _visible(request, (await refresh(request.app)).require(slug))
    plan = plan_for(request.app, channel)
    key = channel.key.with_profile(profile_asked(request.query))  # ?profile=aac (profiles/)
    if as_hls:
        return await hls.serve_manifest(request, key, plan)
    return await ace.stream(request, key, plan)


@routes.get(r"/channel/{slug}/segment/{number:\d{1,18}}.ts")
async def channel_segment(request: web.Request) -> web.StreamResponse:
    channel = _visible(request, request.app[CATALOGUE].require(request.match_info["slug"]))
    key = channel.key.with_profile(profile_asked(request.query))
    return await hls.serve_segment(request, key, int(request.match_info["number"]))


@routes.get("/api/v1/channels")
async def list_channels(request: web.Request) -> web.Response:
    catalogue = await refresh(request.app)
    sessions = {s.key: s for s in request.app[REGISTRY].sessions()}
    channels = [c for c in catalogue.channels() if _may_see(request, c)]
    return web.json_response(
        {"channels": [describe(request.app, c, sessions.get(c.key)) for c in channels]}
    )


@routes.get("/api/v1/channels/{slug}")
async def get_channel(request: web.Request) -> web.Response:
    channel = _visible(request, (await refresh(request.app)).require(request.match_info["slug"]))
    sessions = {s.key: s for s in request.app[REGISTRY].sessions()}
    return web.json_response(describe(request.app, channel, sessions.get(channel.key)))


def _may_see(request: web.Request, channel: Channel) -> bool:
    """Configured channels are everyone's; a playlist's are for the users who see one of them."""
    user = request_user(request)
    if user is None or channel.origin == "config":
        return True
    return any(user.may_see(name) for name in channel.origin.split(","))


async def failover_links(request: web.Request) -> Callable[[str, ChannelKey], ChannelKey]:
    """For links written elsewhere (the tuners' lineups): a named channel's key where it fails over.

    Given a link's channel name (its tvg-id, else name) and key, the answer is
    the named channel of that name when the link is its first source and it has
    others to fail over to (and the asker may see it); else the key itself.
    """
    catalogue = await refresh(request.app)

    def key_for(name: str, key: ChannelKey) -> ChannelKey:
        named = catalogue.get(slugify(name))
        if named is None or len(named.sources) < 2 or named.sources[0] != key:
            return key
        return named.key if _may_see(request, named) else key

    return key_for


def _visible(request: web.Request, channel: Channel) -> Channel:
    if not _may_see(request, channel):
        raise NotFound(f"no channel named {channel.slug!r}")
    return channel


def describe(app: web.Application, channel: Channel, session: ChannelSession | None) -> dict:
    catalogue, settings = app[CATALOGUE], app[SETTINGS]
    playing = session.sources.source if session is not None and session.sources else None
    if session is not None:
        state = STATES.get(session.state, session.state)
    else:
        state = "unavailable" if catalogue.backing_off(channel) else "idle"
    return {
        "slug": channel.slug,
        "name": channel.name,
        "path": f"/channel/{channel.slug}",
        "hls_path": f"/channel/{channel.slug}{HLS_SUFFIX}",
        "origin": channel.origin,
        "logo": channel.attrs.get("tvg-logo"),
        "state": state,
        "live": catalogue.live(channel),
        "warm": channel.slug in app[WARM].slugs,
        "clients": len(session.viewers) if session is not None else 0,
        "playing": playing.name if playing is not None else None,
        "switches": session.sources.switches if session is not None and session.sources else 0,
        "sources": [
            {
                "key": key.name,
                "selector": key.kind,
                "id": key.value,
                **catalogue.book[key].describe(settings, playing=key == playing),
            }
            for key in channel.sources
        ],
    }


def channels_m3u(channels: list[Channel], url: Callable[[Channel], str], mark_ts: bool) -> str:
    """An M3U of channels with their #EXTINF attributes, each linking its acemux URL
    (TS links with Kodi's mimetype line, as in the playlists acemux re-points)."""
    lines = ["#EXTM3U"]
    for channel in channels:
        attrs = "".join(
            f' {name}="{value}"' for name, value in channel.attrs.items() if '"' not in value
        )
        lines.append(f"#EXTINF:-1{attrs},{channel.name}")
        if mark_ts:
            lines.append(TS_MIMETYPE_TAG.decode())
        lines.append(url(channel))
    return "\n".join(lines) + "\n"


async def _warm(app: web.Application) -> AsyncIterator[None]:
    app[WARM].start()
    yield
    await app[WARM].stop()


async def _stop_warm(app: web.Application) -> None:
    """Before the channels close at shutdown: no warm channel starts again."""
    await app[WARM].stop()


def setup(app: web.Application) -> None:
    """Channel routes and state; needs SETTINGS, POOL, REGISTRY and PLAYLISTS set."""
    settings = app[SETTINGS]
    app[CATALOGUE] = catalogue = ChannelCatalogue(settings)
    app[WARM] = WarmChannels(
        settings,
        app[REGISTRY],
        app[POOL],
        catalogue,
        lambda channel: plan_for(app, channel),
        lambda: refresh(app),
    )
    app[REGISTRY].make_room = app[WARM].make_room
    app.add_routes(routes)
    app.cleanup_ctx.append(_warm)
    app.on_shutdown.append(_stop_warm)
