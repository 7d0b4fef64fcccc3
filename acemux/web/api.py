"""The JSON API under /api/v1: channels with their clients, engines; stop and drop.

Everything is read from the one channel registry at request time, so the API,
/ace/status, the metrics and the dashboard always agree.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from acemux.errors import BadRequest, Conflict, NotFound
from acemux.profiles.media import describe_media, latest_pmt
from acemux.streaming.session import ChannelSession
from acemux.streaming.viewer import Viewer
from acemux.web.keys import AUTOSCALER, DIRECTORY, HLS, POOL, RATES, REGISTRY

log = logging.getLogger(__name__)

# The session's own states, as the API names them.
STATES = {
    "starting": "prebuffering",
    "prebuffering": "prebuffering",
    "playing": "playing",
    "reconnecting": "reconnecting",
    "closing": "stopping",
    "closed": "stopping",
}
STOP_REASON = "stopped through the API"
DROP_REASON = "dropped through the API"

routes = web.RouteTableDef()


@routes.get("/api/v1/streams")
async def list_streams(request: web.Request) -> web.Response:
    sessions = request.app[REGISTRY].sessions()
    if sessions:
        request.app[DIRECTORY].warm()  # names the channels from the playlists
    return web.json_response({"streams": [_stream(request, s) for s in sessions]})


@routes.get("/api/v1/streams/{id}")
async def get_stream(request: web.Request) -> web.Response:
    return web.json_response(_stream(request, _find(request)))


@routes.delete("/api/v1/streams/{id}")
async def stop_stream(request: web.Request) -> web.Response:
    session = _find(request)
    log.info("channel %s: stop asked through the API", session.key.name)
    # Its profiles go too: their ffmpeg would otherwise start the channel again at once.
    profiles = request.app[REGISTRY].profiles_of(session)
    await asyncio.gather(*(s.close(STOP_REASON) for s in [*profiles, session]))
    return web.json_response({"stopped": session.key.value, "key": session.key.name})


@routes.post("/api/v1/streams/{id}/reconnect")
async def reconnect_stream(request: web.Request) -> web.Response:
    session = _find(request)
    if not session.request_reconnect("asked through the API"):
        # No upstream is open (the engine is prebuffering, or a reconnect is under
        # way): a 202 would promise a reconnect that never happens.
        state = STATES.get(session.state, session.state)
        raise Conflict(
            f"stream {session.key.name} has no upstream connection open (state: {state}), "
            "so there is nothing to reconnect; try again once it plays"
        )
    log.info("channel %s: reconnect asked through the API", session.key.name)
    return web.json_response({"reconnecting": session.key.value}, status=202)


@routes.delete("/api/v1/streams/{id}/clients/{client}")
async def drop_client(request: web.Request) -> web.Response:
    session = _find(request)
    try:
        client_id = int(request.match_info["client"])
    except ValueError:
        raise BadRequest("client must be a number") from None
    viewer = session.viewers.get(client_id)
    if viewer is None:
        raise NotFound(f"client {client_id} is not watching this stream")
    log.info("channel %s: viewer %d dropped through the API", session.key.name, viewer.id)
    session.drop_viewer(viewer, DROP_REASON)
    return web.json_response({"dropped": client_id, "stream": session.key.value})


@routes.get("/api/v1/profiles")
async def list_profiles(request: web.Request) -> web.Response:
    return web.json_response({"profiles": request.app[REGISTRY].profiles.describe()})


@routes.get("/api/v1/engines")
async def list_engines(request: web.Request) -> web.Response:
    scaler = request.app.get(AUTOSCALER)
    return web.json_response(
        {
            "engines": request.app[POOL].describe(),
            "provisioning": scaler.describe() if scaler is not None else None,
        }
    )


def _find(request: web.Request) -> ChannelSession:
    """A channel by its full key name (id plus extra parameters), id or infohash."""
    wanted = request.match_info["id"]
    registry = request.app[REGISTRY]
    for session in registry.sessions():
        if session.key.name == wanted:
            return session
    session = registry.find(wanted)
    if session is None:
        raise NotFound(f"stream {wanted} is not playing")
    return session


def _stream(request: web.Request, session: ChannelSession) -> dict:
    rates = request.app[RATES]
    bitrate_in, bitrate_out = rates.bitrates(session)
    now = time.time()
    info = session.info
    first_byte = session.first_byte_at
    channel = request.app[DIRECTORY].known(session.key.value)
    return {
        "id": session.key.value,
        "key": session.key.name,
        "channel": channel.describe() if channel else None,  # number, name, logo
        "selector": session.key.kind,
        "state": STATES.get(session.state, session.state),
        "engine": {
            "url": session.member.url if session.member else None,
            "infohash": info.infohash if info else None,
            "playback_session_id": info.playback_session_id if info else None,
            "sessions": session.engine_sessions,
        },
        "created_at": session.created_at,
        "uptime_seconds": round(now - session.created_at, 3),
        "time_to_first_byte_seconds": (
            round(first_byte - session.created_at, 3) if first_byte is not None else None
        ),
        "bitrate_in": _round(bitrate_in),
        "bitrate_out": _round(bitrate_out),
        "bytes_in": session.bytes_in,
        "bytes_out": session.bytes_out,
        "reconnects": session.reconnects,
        "last_error": session.last_error or None,
        "buffer_bytes": session.ring.size,
        "engine_stats": session.engine_stats,  # the engine's stat_url figures
        "history": rates.history(session),
        "clients": [_client(session, v, bitrate_in, now) for v in session.viewers.values()],
        "hls_clients": hls.viewers() if (hls := request.app[HLS].find(session.key)) else [],
        "media": describe_media(latest_pmt(session.ring)),  # codecs, for the dashboard's player
        "profile": session.upstream.describe() if session.upstream else None,
    }


def _client(session: ChannelSession, viewer: Viewer, bitrate_in: float | None, now: float) -> dict:
    lag = _lag_bytes(session, viewer)
    return {
        "id": viewer.id,
        "address": viewer.address,
        "user_agent": viewer.user_agent,
        "user": viewer.user,
        "connected_at": viewer.connected_at,
        "connected_seconds": round(now - viewer.connected_at, 3),
        "bytes_sent": viewer.bytes_sent,
        "live": viewer.live,
        "lag_bytes": lag,
        "lag_seconds": round(lag * 8 / bitrate_in, 3) if bitrate_in else None,
        "skips": viewer.skips,
    }


def _lag_bytes(session: ChannelSession, viewer: Viewer) -> int:
    """Bytes the client is behind: queued in its socket, plus ring data not yet sent."""
    if viewer.transport.is_closing():
        return 0
    lag = viewer.backlog()
    if not viewer.live:
        ring = session.ring
        for seq in range(max(viewer.cursor, ring.first_seq), ring.next_seq):
            chunk = ring.get(seq)
            lag += len(chunk) if chunk is not None else 0
    return lag


def _round(value: float | None) -> int | None:
    return None if value is None else round(value)
