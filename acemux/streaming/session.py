"""ChannelSession: one engine session and one upstream connection, fanned out to viewers.

Roles, each in one place:
- the reader task owns the upstream: it opens the playback URL, aligns what it
  reads to whole TS packets, starts viewers at keyframes, appends each chunk
  to the ring and hands it to the audience (see audience.py), which writes it
  to every caught-up viewer; on EOF, error or stall it reconnects with backoff;
- the heartbeat task keeps silent viewers fed with null packets and notices a
  stalled upstream;
- the stats task polls the engine's view of the session.
The reader never waits for a viewer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

import aiohttp

from acemux.config import Settings
from acemux.engine.api import EngineClient, StreamInfo
from acemux.engine.pool import EngineMember, EnginePool
from acemux.errors import AcemuxError
from acemux.logs import ids
from acemux.streaming.audience import Audience
from acemux.streaming.events import ChannelEvents
from acemux.streaming.index import StreamIndex
from acemux.streaming.key import ChannelKey
from acemux.streaming.ring import ChunkRing
from acemux.streaming.splice import StreamStart
from acemux.streaming.ts import PacketAligner
from acemux.streaming.viewer import Viewer
from acemux.tasks import cancel_and_wait

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 0.25
SILENCE_BEFORE_FILLER = 0.5  # null packets start well within 1 s of silence


class ChannelSession:
    def __init__(
        self,
        key: ChannelKey,
        pool: EnginePool,
        settings: Settings,
        on_closing: Callable[["ChannelSession"], None],
        events: ChannelEvents | None = None,
    ) -> None:
        self.key = key
        self.events = events or ChannelEvents()
        self._pool = pool
        self.member: EngineMember | None = None  # the engine carrying the channel
        self.engine_stats: dict | None = None  # the engine's latest stat_url answer
        self._settings = settings
        self._on_closing = on_closing
        self._loop = asyncio.get_running_loop()
        self.ring = ChunkRing(settings.ring_bytes)
        self._aligner = PacketAligner()
        self._index = StreamIndex()
        self._stream_start = StreamStart()
        self.audience = Audience(self, settings)

        self.state = "starting"  # starting, prebuffering, playing, reconnecting, closing, closed
        self.info: StreamInfo | None = None
        self.start_error: AcemuxError | None = None
        self._started = asyncio.Event()
        self._closed = asyncio.Event()

        self._data_waiters: list[asyncio.Future] = []  # see wait_for_data
        self.refs = 0  # request tasks holding the channel, viewers or still waiting
        self._grace: asyncio.TimerHandle | None = None

        self._reader: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None
        self._stats: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None
        self._upstream: aiohttp.ClientResponse | None = None
        self._cut: tuple[str, str] | None = None  # (cause, why) when acemux ends the upstream
        self._reconnect_asked: str | None = None  # a forced reconnect waiting for a keyframe
        self._leaving: EngineMember | None = None  # an engine being replaced: go elsewhere

        self.created_at = time.time()
        self.last_data_at = self._loop.time()  # upstream bytes: for stall detection
        self.last_sent_at = self.last_data_at  # viewer bytes: for keep-alive filler
        self.first_byte_at: float | None = None
        self.bytes_in = 0
        self.reconnects = 0
        self.engine_sessions = 0
        self.last_error = ""

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self.events.channel_opened(self)
        self._reader = asyncio.create_task(self._run(), name=f"reader:{self.key.name}")

    async def wait_started(self) -> None:
        """Wait for the engine's getstream answer; raise its error if it failed."""
        await self._started.wait()
        if self.start_error is not None:
            raise self.start_error.clone()

    def hold(self) -> None:
        self.refs += 1
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def release(self) -> None:
        self.refs -= 1
        if self.refs == 0 and self.state not in ("closing", "closed"):
            self._grace = self._loop.call_later(
                self._settings.grace_seconds, self._close_soon, "no viewers left"
            )

    @property
    def closing(self) -> bool:
        return self.state in ("closing", "closed")

    def _close_soon(self, reason: str) -> None:
        if self._closer is None:
            self._closer = asyncio.create_task(self.close(reason), name=f"close:{self.key.name}")

    async def close(self, reason: str) -> None:
        """End every viewer, drop the upstream and stop the engine session, once."""
        if self.closing:
            await self._closed.wait()
            return
        log.info("channel %s closing: %s", self.key.name, reason, extra=ids(self.key.name))
        self.state = "closing"
        self._on_closing(self)
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.audience.end_all(reason)
        self._wake_data_waiters()
        current = asyncio.current_task()
        await cancel_and_wait(
            *(t for t in (self._reader, self._heartbeat, self._stats) if t is not current)
        )
        if not self._started.is_set():
            self.start_error = self.start_error or AcemuxError(f"channel closed: {reason}")
            self._started.set()
        await self._stop_engine_session()
        if self.member is not None:
            self._pool.release(self.member)
        self.state = "closed"
        self._closed.set()
        self.events.channel_closed(self, reason)

    @property
    def engine(self) -> EngineClient | None:
        return self.member.client if self.member is not None else None

    async def _stop_engine_session(self) -> None:
        info, self.info = self.info, None
        if info is not None and self.member is not None:
            await self.member.client.stop(info.command_url)

    # -- the reader --------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._new_engine_session()
        except AcemuxError as err:
            self.events.upstream_error(self, "getstream_failed")
            self.start_error = err
            self._started.set()
            self._close_soon(f"getstream failed: {err.message}")
            return
        self._started.set()
        self._heartbeat = asyncio.create_task(
            self._heartbeat_loop(), name=f"heartbeat:{self.key.name}"
        )
        self._stats = asyncio.create_task(self._stats_loop(), name=f"stats:{self.key.name}")
        reason = await self._read_with_reconnects()
        log.warning("channel %s gave up: %s", self.key.name, reason, extra=ids(self.key.name))
        self.last_error = reason
        self._close_soon(f"upstream lost: {reason}")

    async def _new_engine_session(self, reconnecting: bool = False) -> None:
        await self._stop_engine_session()
        member = self.member
        if (
            member is None
            or not member.healthy
            or member.client.breaker.failures
            or member is self._leaving
        ):
            # No engine yet, or this one just failed to answer: take the best one
            # (another healthy engine if there is one).
            self.member = self._pool.choose(avoid=member, reconnecting=reconnecting)
            if member is not None:
                self._pool.release(member)
        self.info = await self.member.client.start_stream(
            self.key.selector(), self.key.extra_params(), fail_fast=not reconnecting
        )
        self.engine_sessions += 1
        log.info(
            "channel %s: engine session %s on %s",
            self.key.name,
            self.info.playback_session_id,
            self.member.url,
            extra=ids(self.key.name),
        )

    async def _read_with_reconnects(self) -> str:
        """Read until the retry budget is spent; return why it was given up."""
        s = self._settings
        failures = 0
        failing_since: float | None = None
        while True:
            got_data, cause, reason = await self._read_connection()
            if cause != "forced":
                self.events.upstream_error(self, cause)
            now = self._loop.time()
            self.last_error = reason
            if got_data:
                failures, failing_since = 0, now
            failing_since = failing_since if failing_since is not None else now
            failures += 1
            if now - failing_since >= s.retry_budget_seconds:
                return reason
            delay = min(s.reconnect_max_delay, s.reconnect_first_delay * 2 ** (failures - 1))
            if cause == "forced":
                delay = 0.0
            log.info(
                "channel %s: %s; reconnect %d in %.2f s",
                self.key.name,
                reason,
                failures,
                delay,
                extra=ids(self.key.name),
            )
            self.state = "reconnecting"
            self.reconnects += 1
            self.events.reconnect(self)
            await asyncio.sleep(delay)
            if failures > 1 or self._leaving is self.member:
                # The same playback URL already failed once (or its engine is being
                # replaced): ask an engine anew.
                try:
                    await self._new_engine_session(reconnecting=True)
                except AcemuxError as err:
                    self.events.upstream_error(self, "getstream_failed")
                    self.last_error = f"getstream failed: {err.message}"

    async def _read_connection(self) -> tuple[bool, str, str]:
        """One upstream connection, read to its end: (got data, cause, why it ended)."""
        if self.info is None:
            return False, "getstream_failed", self.last_error or "no engine session"
        if self.state != "reconnecting":
            self.state = "prebuffering"
        try:
            resp = await self.member.client.open_playback(self.info.playback_url)
        except AcemuxError as err:
            return False, "open_failed", err.message
        self._upstream = resp
        self._cut = None
        self._aligner.reset()  # a partial packet of the old connection is dropped
        self._stream_start.begin(splice=self.ring.next_seq > 0)
        self.last_data_at = self._loop.time()
        got_data = False
        read, size = resp.content.read, self._settings.read_size
        try:
            while self._cut is None:
                data = await read(size)
                if not data:
                    break
                got_data = True
                self._on_data(data)
        except (aiohttp.ClientError, OSError) as err:
            if self._cut is None:
                return got_data, "error", f"upstream error: {err!r}"
        finally:
            self._upstream = None
            resp.close()
        if self._cut is not None:
            return (got_data, *self._cut)
        return got_data, "eof", "upstream ended"

    def _on_data(self, raw: bytes) -> None:
        self.last_data_at = self._loop.time()
        self.bytes_in += len(raw)
        chunk = self._aligner.feed(raw)
        if not chunk:
            return
        chunk, joins = self._stream_start.feed(chunk, self._index.scan(chunk), self._index)
        if self._reconnect_asked is not None and joins:
            # Cut right before a keyframe: every frame viewers got is whole.
            chunk, joins = chunk[: joins[0].offset], []
            self._cut = ("forced", f"reconnect asked: {self._reconnect_asked}")
            self._reconnect_asked = None
        if not chunk:
            return
        self.last_sent_at = self.last_data_at
        if self.state != "playing":
            self.state = "playing"
            if self.first_byte_at is None:
                self.first_byte_at = time.time()
                self.events.first_byte(self, self.first_byte_at - self.created_at)
        seq = self.ring.append(chunk, joins)
        self.audience.fanout(seq, chunk)
        if self._data_waiters:
            self._wake_data_waiters()

    async def wait_for_data(self) -> None:
        """Return when the next chunk reaches the ring, or the channel closes."""
        if self.closing:
            return
        waiter = self._loop.create_future()
        self._data_waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._data_waiters:
                self._data_waiters.remove(waiter)

    def _wake_data_waiters(self) -> None:
        waiters, self._data_waiters = self._data_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _stats_loop(self) -> None:
        """The engine's view of the channel (peers, speeds), polled at a modest pace."""
        while True:
            await asyncio.sleep(self._settings.stat_interval)
            info, member = self.info, self.member
            if info is None or member is None:
                continue
            try:
                self.engine_stats = await member.client.stat(info.stat_url)
            except AcemuxError as err:
                self.engine_stats = {"error": err.message}

    async def _heartbeat_loop(self) -> None:
        """Null packets for silent viewers; a stalled upstream is cut so it reconnects."""
        stall = self._settings.stall_seconds
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            now = self._loop.time()
            if now - self.last_sent_at >= SILENCE_BEFORE_FILLER:
                self.audience.send_filler()
            silent = now - self.last_data_at
            if silent >= stall and self._upstream is not None and self._cut is None:
                self._cut = ("stall", f"upstream stalled for {stall:g} s")
                self._upstream.close()

    # -- viewers -----------------------------------------------------------------

    @property
    def viewers(self) -> dict[int, Viewer]:
        return self.audience.viewers

    @property
    def bytes_out(self) -> int:
        return self.audience.bytes_out

    async def serve(self, viewer: Viewer, drain: Callable[[], Awaitable[object]]) -> None:
        """Run in the viewer's request task until the viewer or the channel ends."""
        if self.closing:
            viewer.end("channel closed")
            return
        await self.audience.serve(viewer, drain)

    def request_reconnect(self, reason: str) -> bool:
        """Reconnect the upstream, cutting it right before the next keyframe.

        Viewers see whole frames up to the cut, then the new connection from its
        first keyframe with the discontinuity marked: no broken picture.
        """
        if self._upstream is not None:
            self._reconnect_asked = reason
        return self._upstream is not None

    def move_engine(self, reason: str) -> None:
        """Leave the current engine now (it is being replaced): reconnect on another one.

        Viewers stay; they get the new engine's stream through the same splice
        as any reconnect.
        """
        self._leaving = self.member
        if self._upstream is not None and self._cut is None:
            self._cut = ("forced", f"moving to another engine: {reason}")
            self._upstream.close()

    def drop_viewer(self, viewer: Viewer, reason: str) -> None:
        """Disconnect a viewer at once, even when its socket is backed up."""
        self.audience.drop(viewer, reason)

    def describe(self) -> dict:
        info = self.info
        return {
            "id": self.key.value,
            "key": self.key.name,
            "selector": self.key.kind,
            "state": self.state,
            "engine": self.member.url if self.member else None,
            "engine_stats": self.engine_stats,
            "infohash": info.infohash if info else None,
            "playback_session_id": info.playback_session_id if info else None,
            "clients": len(self.viewers),
            "created_at": self.created_at,
            "first_byte_at": self.first_byte_at,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "reconnects": self.reconnects,
            "engine_sessions": self.engine_sessions,
            "last_error": self.last_error,
            "buffer_bytes": self.ring.size,
            "viewers": [v.describe() for v in self.viewers.values()],
        }
