"""The playback URL: the looped TS, paced, with the faults a test asked for.

Each response runs in its aiohttp handler task. The engine ends a connection
(stop, a newer session for the same content, shutdown) by cancelling that task;
the handler recognises its own cancellation and finishes the response with a
clean end of stream, the way the real engine hangs up.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing

from aiohttp import web

from .faults import GARBAGE, MISALIGN_BYTES, Faults
from .sessions import Session
from .state import STATE, EngineState
from .stats import Stats

log = logging.getLogger(__name__)


class PlaybackConnection:
    """One playback response that the engine can close from outside."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.close_reason: str | None = None
        self._task = asyncio.current_task()

    def close(self, reason: str) -> None:
        if self.close_reason is None and self._task is not None:
            self.close_reason = reason
            self._task.cancel()


class _FaultyWriter:
    """Writes chunks to a response, applying the byte-triggered faults on the way."""

    def __init__(
        self, resp: web.StreamResponse, session: Session, stats: Stats, faults: Faults
    ) -> None:
        self._resp = resp
        self._session = session
        self._stats = stats
        self._stall_seconds = faults.stall_seconds
        events = [
            (faults.garbage_after_bytes, "garbage"),
            (faults.stall_after_bytes if faults.stall_seconds else None, "stall"),
            (faults.drop_after_bytes, "drop"),
        ]
        self._events = sorted((at, kind) for at, kind in events if at is not None)
        self.sent = 0

    async def write(self, chunk: bytes) -> bool:
        """Send `chunk`; False once the connection must be dropped."""
        while self._events and self._events[0][0] <= self.sent + len(chunk):
            at, kind = self._events.pop(0)
            cut = max(at - self.sent, 0)
            await self._send(chunk[:cut])
            chunk = chunk[cut:]
            if kind == "drop":
                log.info("fault: dropping playback after %d bytes", self.sent)
                return False
            if kind == "stall":
                log.info(
                    "fault: stalling playback for %.1f s after %d bytes",
                    self._stall_seconds,
                    self.sent,
                )
                await asyncio.sleep(self._stall_seconds)
            else:
                log.info(
                    "fault: inserting %d garbage bytes after %d bytes", len(GARBAGE), self.sent
                )
                await self._send(GARBAGE)
        await self._send(chunk)
        return True

    async def _send(self, data: bytes) -> None:
        if data:
            await self._resp.write(data)
            self.sent += len(data)
            self._session.bytes_sent += len(data)
            self._stats.record_sent(len(data))


async def handle_playback(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.stats.record_playback_request(request.headers)
    session = state.sessions.get(request.match_info["infohash"], request.match_info["token"])
    if session is None:
        raise web.HTTPForbidden(text="unknown playback session")
    resp = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
    conn = PlaybackConnection(session)
    session.connections.add(conn)
    state.stats.playback_opened()
    try:
        await _play(request, resp, conn, state)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if conn.close_reason is None or (task is not None and task.uncancel()):
            raise  # not (only) our own close: shutdown or a real cancellation
        log.info("playback closed by the engine: %s", conn.close_reason)
    except ConnectionError:
        log.info("playback client went away")
    finally:
        session.connections.discard(conn)
        state.stats.playback_closed()
    if not resp.prepared:  # closed while prebuffering: the session is gone
        raise web.HTTPForbidden(text="unknown playback session")
    resp.force_close()
    return resp


async def _play(
    request: web.Request, resp: web.StreamResponse, conn: PlaybackConnection, state: EngineState
) -> None:
    faults = state.faults
    session = conn.session
    clock = asyncio.get_running_loop()
    prebuffer = session.ready_at - clock.time()
    if prebuffer > 0:  # the real engine withholds headers until its buffer is full
        await asyncio.sleep(prebuffer)
    await resp.prepare(request)
    rate = faults.rate
    ts = state.sample_for(session)
    loop = packet = 0
    if faults.start_mode == "live":
        # The live timeline advances in real time (x rate when paced).
        elapsed = clock.time() - state.sessions.live_origin(session.infohash)
        loop, packet = ts.position(elapsed * (rate or 1.0))
    log.info(
        "playback of %s from loop %d packet %d, rate %s", session.content_id, loop, packet, rate
    )
    writer = _FaultyWriter(resp, session, state.stats, faults)
    skip = MISALIGN_BYTES if faults.misalign else 0
    ids = (session.content_id, session.infohash)
    sending = faults.stall_after(*ids)
    dead_at = clock.time() + sending if sending is not None else None
    async with aclosing(ts.stream(rate=rate, loop=loop, packet=packet)) as stream:
        async for chunk in stream:
            if faults.starved or faults.silent(*ids) or (dead_at is not None and clock.time() >= dead_at):
                log.info("fault: playback of %s is dead, sending nothing", session.content_id)
                await asyncio.Event().wait()  # until the engine closes the connection
            if not await writer.write(chunk[skip:] if skip else chunk):
                return
            skip = 0
