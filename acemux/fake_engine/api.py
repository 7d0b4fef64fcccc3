"""The engine's own HTTP API, imitated: getstream, manifest (HLS), stat, command, version, status.

Shapes follow ENGINE_API.md: errors come back as HTTP 200 with an ``error``
field, and the URLs handed out are built from the Host the request came to.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from aiohttp import web

from . import hls
from .faults import GARBAGE_ANSWER
from .sessions import STOP_REASON, Session, infohash_of, is_hex40
from .state import STATE, EngineState

log = logging.getLogger(__name__)

VERSION = {"code": 3017000, "platform": "linux", "version": "3.1.70"}
VERSION_RC2 = {"code": 3002300, "version": "3.1.0-rc2"}  # before `platform` existed
FAILED_TO_LOAD = "failed to load content"
UNKNOWN_SESSION = "unknown playback session id"
PEERS = 8

_BTIH = re.compile(r"urn:btih:([0-9a-fA-F]{40})")


def _answer(response: Any, error: str | None = None) -> web.Response:
    return web.json_response({"response": response, "error": error})


def _select(query: Any) -> tuple[str, str | None]:
    """(the selector's value, its infohash or None if it cannot load).

    Selectors are checked in the engine's order: content_id (alias id),
    infohash, url, magnet.
    """
    for name in ("content_id", "id", "infohash", "url", "magnet"):
        value = query.get(name)
        if value:
            break
    else:
        return "", None
    if name == "url":
        return value, infohash_of(value)
    if name == "magnet":
        match = _BTIH.search(value)
        return value, match.group(1).lower() if match else None
    if not is_hex40(value):
        return value, None
    return value, value.lower() if name == "infohash" else infohash_of(value)


def _loadable(state: EngineState, key: str, infohash: str | None) -> str | None:
    unknown = state.faults.unknown_ids
    if infohash is None or key.lower() in unknown or infohash in unknown:
        return None
    return infohash


async def getstream(request: web.Request) -> web.Response:
    delay = request.app[STATE].faults.getstream_seconds
    if delay:
        await asyncio.sleep(delay)
    return _start(request, as_hls=False)


async def manifest(request: web.Request) -> web.Response:
    """HLS: the same session start, its playback URL a live playlist (see hls.py)."""
    return _start(request, as_hls=True)


def _start(request: web.Request, as_hls: bool) -> web.Response:
    state = request.app[STATE]
    key, infohash = _select(request.query)
    state.stats.record_getstream(key, request.headers)
    if state.faults.getstream_garbage:
        # Claims JSON, sends bytes that are neither UTF-8 nor JSON.
        return web.Response(body=GARBAGE_ANSWER, content_type="application/json", charset="utf-8")
    error = state.faults.take_getstream_error()
    infohash = _loadable(state, key, infohash)
    if error is not None or infohash is None:
        error = error or FAILED_TO_LOAD
        # Also without format=json: what the real engine sends then is unknown.
        log.info("getstream %r fails: %s", key, error)
        return _answer(None, error)
    session = state.sessions.start(
        infohash, key, request.query.get("pid"), state.faults.prebuffer_seconds
    )
    base = f"{request.scheme}://{request.host}"
    path = f"{infohash}/{session.token}"
    response = {
        "playback_url": f"{base}/ace/m/{path}.m3u8" if as_hls else f"{base}/ace/r/{path}",
        "stat_url": f"{base}/ace/stat/{path}",
        "command_url": f"{base}/ace/cmd/{path}",
        "infohash": infohash,
        "playback_session_id": session.playback_session_id,
        "is_live": 1,
        "is_encrypted": 0,
        "client_session_id": -1,
    }
    if request.query.get("format") != "json":
        raise web.HTTPFound(response["playback_url"])
    return _answer(response)


def _session(request: web.Request) -> Session | None:
    return request.app[STATE].sessions.get(
        request.match_info["infohash"], request.match_info["token"]
    )


async def stat(request: web.Request) -> web.Response:
    request.app[STATE].stats.record_stat()
    session = _session(request)
    if session is None:
        return _answer(None, UNKNOWN_SESSION)
    loop_now = asyncio.get_running_loop().time()
    prebuffering = loop_now < session.ready_at
    dead = request.app[STATE].faults.silent(session.content_id, session.infohash)
    playing_for = max(loop_now - session.ready_at, 0.0)
    speed_down = int(session.bytes_sent / playing_for / 1024) if playing_for > 0.5 else 0
    starved = request.app[STATE].faults.starved  # the whole engine, every id
    speed_down = 0 if dead or starved else speed_down
    now = int(time.time())
    return _answer(
        {
            "status": "prebuf" if prebuffering else "dl",
            "peers": 0 if prebuffering or dead or starved else PEERS,
            "speed_down": speed_down,
            "speed_up": speed_down // 8,
            "downloaded": session.bytes_sent,
            "uploaded": session.bytes_sent // 8,
            "total_progress": 0,
            "is_live": 1,
            "infohash": session.infohash,
            "playback_session_id": session.playback_session_id,
            "livepos": {  # the engine sends these as strings
                "pos": str(now),
                "live_first": str(now - 600),
                "live_last": str(now),
                "first_ts": str(now - 600),
                "last_ts": str(now),
                "buffer_pieces": "15",
                "is_live": "1",
            },
        }
    )


async def command(request: web.Request) -> web.Response:
    state = request.app[STATE]
    session = _session(request)
    if request.query.get("method") != "stop":
        return _answer(None, "unknown method")
    unstopped = state.sessions.take_unstopped(request.match_info["token"])
    state.stats.record_stop(session.playback_session_id if session else unstopped)
    if session is None:
        return _answer(None, UNKNOWN_SESSION)
    state.sessions.end(session, STOP_REASON)
    return _answer("ok")


def _version(request: web.Request) -> dict[str, Any]:
    """The version this engine reports; 404 when it has no HTTP API (version_mode missing)."""
    mode = request.app[STATE].faults.version_mode
    if mode == "missing":
        raise web.HTTPNotFound(text="not found")
    return VERSION_RC2 if mode == "rc2" else VERSION


async def service(request: web.Request) -> web.Response:
    version = _version(request)
    if request.query.get("method") != "get_version":
        return web.json_response({"result": None, "error": "unknown method"})
    return web.json_response({"result": version, "error": None})


async def server_api(request: web.Request) -> web.Response:
    version = _version(request)
    if request.query.get("method") != "get_status":
        return web.json_response({"error": {"message": "unknown method", "code": 0}})
    return web.json_response({"result": {"playlist_loaded": True, "version": version}})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ace/getstream", getstream)
    app.router.add_get("/ace/manifest.m3u8", manifest)
    hls.add_routes(app)
    app.router.add_get("/ace/stat/{infohash}/{token}", stat)
    app.router.add_get("/ace/cmd/{infohash}/{token}", command)
    app.router.add_get("/webui/api/service", service)
    app.router.add_get("/server/api", server_api)
