"""ChannelSession: one engine session and one upstream connection, fanned out to viewers.

Roles, each in one place:
- the reader task owns the upstream: it opens the playback URL, aligns what it
  reads to whole TS packets, starts viewers at keyframes, appends each chunk
  to the ring and hands it to the audience (see audience.py), which writes it
  to every caught-up viewer; on EOF, error or stall it reconnects with backoff;
- the heartbeat task keeps silent viewers fed with null packets and notices a
  stalled upstream;
- the stats task polls the engine's view of the session.
Which engine carries the channel, and its session there, is EngineLink's
(engine_link.py); a profile's channel reads an ffmpeg instead (upstream.py).
The reader never waits for a viewer. Any exception escaping one of these tasks
ends the channel cleanly (see supervisor.py): nothing can leave it wedged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Awaitable, Callable

import aiohttp

from acemux.config import Settings
from acemux.engine.api import EngineClient, StreamInfo
from acemux.engine.pool import EngineMember, EnginePool
from acemux.errors import AcemuxError, EngineTimeout
from acemux.logs import ids
from acemux.streaming.audience import Audience
from acemux.streaming.engine_link import EngineLink
from acemux.streaming.events import ChannelEvents
from acemux.streaming.index import StreamIndex
from acemux.streaming.key import ChannelKey
from acemux.streaming.retry import ReconnectPolicy
from acemux.streaming.ring import ChunkRing
from acemux.streaming.silence import SilenceWatch
from acemux.streaming.splice import StreamStart
from acemux.streaming.supervisor import TaskSupervisor
from acemux.streaming.ts import PacketAligner
from acemux.streaming.viewer import Viewer
from acemux.wakeups import piggyback

if TYPE_CHECKING:
    from acemux.channels.failover import SourcePlan
    from acemux.streaming.upstream import Upstream, UpstreamConnection

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
        sources: "SourcePlan | None" = None,
        on_closed: Callable[["ChannelSession"], None] | None = None,
        upstream: "Upstream | None" = None,
    ) -> None:
        self.key = key
        # A named channel's sources (see channels/failover.py); None: the key is the source.
        self.sources = sources
        self.upstream = upstream  # None: read from an engine (acemux/profiles: an ffmpeg)
        self.events = events or ChannelEvents()
        self.link = EngineLink(key, pool, sources)
        self.engine_stats: dict | None = None  # the engine's latest stat_url answer
        self._settings = settings
        self._on_closing = on_closing
        self._on_closed = on_closed
        self._loop = asyncio.get_running_loop()
        self._aligner = PacketAligner()
        self._index = StreamIndex()
        self.ring = ChunkRing(settings.ring_bytes, settings.ring_seconds, self._index.scan)
        self._stream_start = StreamStart()
        self.audience = Audience(self, settings)

        self.state = "starting"  # starting, prebuffering, playing, reconnecting, closing, closed
        self.start_error: AcemuxError | None = None
        self._started = asyncio.Event()
        self._closed = asyncio.Event()

        self._data_waiters: list[asyncio.Future] = []  # see wait_for_data
        self.refs = 0  # request tasks holding the channel, viewers or still waiting
        self._grace: asyncio.TimerHandle | None = None

        self._tasks = TaskSupervisor(key.name, self._task_failed)
        self._upstream: UpstreamConnection | None = None  # the connection being read
        self._cut: tuple[str, str] | None = None  # (cause, why) when acemux ends the upstream
        self._reconnect_asked: str | None = None  # a forced reconnect waiting for a keyframe
        self._opening: asyncio.Timeout | None = None  # waiting for the stream's headers

        self.created_at = time.time()
        self.last_data_at = self._loop.time()  # upstream bytes: for stall detection
        # Viewer bytes: the heartbeat wakes only after SILENCE_BEFORE_FILLER without.
        self._quiet = SilenceWatch(self._loop, SILENCE_BEFORE_FILLER)
        self._piggyback = piggyback(self._loop)  # periodic chores ride on reads
        self.first_byte_at: float | None = None
        self._first_at: float | None = None  # the current connection's first byte
        self.bytes_in = 0
        self.reconnects = 0
        self.last_error = ""

    @property
    def last_sent_at(self) -> float:
        """When viewers last got stream data (the loop's clock)."""
        return self._quiet.last

    @property
    def member(self) -> EngineMember | None:
        """The engine carrying the channel."""
        return self.link.member

    @property
    def info(self) -> StreamInfo | None:
        """The engine session (None between sessions and for a profile's channel)."""
        return self.link.info

    @property
    def engine_sessions(self) -> int:
        return self.link.sessions

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self.events.channel_opened(self)
        self._tasks.spawn("reader", self._run())

    def _task_failed(self, role: str, err: BaseException, first: bool) -> None:
        """One of the channel's tasks raised (logged already): end the channel cleanly."""
        if first:
            self.events.channel_failed(self, role, err)
            self.last_error = f"internal error in the channel's {role} task: {err!r}"
            self._fail_start(AcemuxError("the channel failed while starting (see the log)"))
        if role == "close":  # close() itself failed: finish what must be finished
            self._finish_closed(self.last_error)
        else:
            self._close_soon(self.last_error)

    def _fail_start(self, err: AcemuxError) -> None:
        if not self._started.is_set():
            self.start_error = self.start_error or err
            self._started.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def wait_started(self) -> None:
        """Wait (bounded) for the engine's getstream answer; raise its error if it failed."""
        deadline = self._settings.engine_api_timeout + self._settings.start_deadline_margin
        try:
            async with asyncio.timeout(deadline):
                await self._started.wait()
        except TimeoutError:
            message = f"the engine did not start the stream within {deadline:g} s"
            raise EngineTimeout(message) from None
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
        if self._tasks.get("close") is None:
            self._tasks.spawn("close", self.close(reason))

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
        self.ring.clear()  # the buffer goes now, not when the last reference does
        self._wake_data_waiters()
        await self._tasks.cancel("reader", "heartbeat", "stats")
        self._quiet.close()
        self._fail_start(AcemuxError(f"channel closed: {reason}"))
        await self._stop_engine_session()
        self._finish_closed(reason)

    def _finish_closed(self, reason: str) -> None:
        if self.state == "closed":
            return
        # Again, for a close() that failed half-way (all of these are idempotent).
        self.state = "closing"
        self._on_closing(self)
        self.audience.end_all(reason)
        self.ring.clear()
        self._quiet.close()
        self._fail_start(AcemuxError(f"channel closed: {reason}"))
        self.link.release()
        self.state = "closed"
        self._closed.set()
        self.events.channel_closed(self, reason)
        if self._on_closed is not None:
            self._on_closed(self)

    @property
    def engine(self) -> EngineClient | None:
        return self.member.client if self.member is not None else None

    async def _stop_engine_session(self) -> None:
        if self.upstream is not None:
            await self.upstream.stop()
        else:
            await self.link.stop()

    # -- the reader --------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._new_engine_session()
        except AcemuxError as err:
            self.events.upstream_error(self, "getstream_failed")
            err = self.link.start_failed(err)
            self._fail_start(err)
            self._close_soon(f"getstream failed: {err.message}")
            return
        self._started.set()
        self._tasks.spawn("heartbeat", self._heartbeat_loop())
        self._tasks.spawn("stats", self._stats_loop())
        reason = await self._read_with_reconnects()
        log.warning("channel %s gave up: %s", self.key.name, reason, extra=ids(self.key.name))
        self.last_error = reason
        self._close_soon(f"upstream lost: {reason}")

    async def _new_engine_session(self, reconnecting: bool = False, move: bool = False) -> None:
        if self.upstream is not None:
            await self.upstream.start()
        else:
            await self.link.start(reconnecting=reconnecting, move=move)

    async def _read_with_reconnects(self) -> str:
        """Read until the retry budget is spent; return why it was given up."""
        policy = ReconnectPolicy(self._settings, self._loop.time)
        while True:
            data_seconds, cause, reason = await self._read_connection()
            if cause != "forced":
                self.events.upstream_error(self, cause)
            if self.sources is not None:
                self.sources.connection_ended(cause)
            decision = policy.connection_ended(data_seconds, cause, reason)
            if decision.young:
                reason = f"{reason} after {data_seconds:.1f} s of data"
            self.last_error = reason
            if decision.give_up is not None:
                return decision.give_up
            log.info(
                "channel %s: %s; reconnect %d in %.2f s%s",
                self.key.name,
                reason,
                policy.failures,
                decision.delay,
                ", new engine session" if decision.new_session else "",
                extra=ids(self.key.name),
            )
            self.state = "reconnecting"
            self.reconnects += 1
            self.events.reconnect(self)
            await asyncio.sleep(decision.delay)
            if decision.new_session or self.link.leaving or (
                self.sources and self.sources.source != self.link.source
            ):
                try:
                    await self._new_engine_session(reconnecting=True, move=decision.new_session)
                except AcemuxError as err:
                    self.events.upstream_error(self, "getstream_failed")
                    self.last_error = f"getstream failed: {err.message}"

    async def _read_connection(self) -> tuple[float | None, str, str]:
        """One upstream connection, read to its end.

        Returns (seconds from its first to its last byte, None when it sent
        nothing; cause; why it ended).
        """
        if self.upstream is None and self.info is None:
            return None, "getstream_failed", self.last_error or "no engine session"
        if self.state != "reconnecting":
            self.state = "prebuffering"
        self._cut = None
        try:
            async with asyncio.timeout(None) as self._opening:  # a failover may cut the wait
                resp = await (self.upstream or self.link).open()
        except AcemuxError as err:
            return None, "open_failed", err.message
        except TimeoutError:
            return None, *(self._cut or ("failover", "failed over"))
        finally:
            self._opening = None
        self._upstream = resp
        self._cut = None
        self._aligner.reset()  # a partial packet of the old connection is dropped
        self._index.new_source()  # another engine or id may mux differently
        self._stream_start.begin(splice=self.ring.next_seq > 0)
        self.last_data_at = self._loop.time()
        self._first_at = None
        deliver = getattr(resp, "deliver", None)
        try:
            # An engine's stream is pushed (engine/stream_reader.py: no task
            # wake-up per read); other upstreams are read.
            if deliver is not None:
                await deliver(self._on_data)
            else:
                read, size = resp.content.read, self._settings.read_size
                while self._cut is None:
                    data = await read(size)
                    if not data:
                        break
                    self._on_data(data)
        except (aiohttp.ClientError, OSError) as err:
            if self._cut is None:
                lasted = _lasted(self._first_at, self.last_data_at)
                return lasted, "error", f"upstream error: {err!r}"
        finally:
            self._upstream = None
            resp.close()
        lasted = _lasted(self._first_at, self.last_data_at)
        if self._cut is not None:
            return (lasted, *self._cut)
        return lasted, "eof", "upstream ended"

    def _on_data(self, raw: bytes) -> None:
        """One upstream read: align it, start viewers cleanly, keep it, write it to viewers.

        The hot path: it runs for every read of every channel, cold (the
        reader sleeps between reads), so the steady state does the least it
        can: the ring indexes join points in batches (ring.py), and the
        stream-start rules run only after a (re)connect or a forced reconnect.
        """
        now = self.last_data_at = self._loop.time()
        self.bytes_in += len(raw)
        if self._first_at is None:
            self._first_at = now
            if self.sources is not None:
                self.sources.delivered()  # the source works: its time to first byte
        chunk = self._aligner.feed(raw)
        if not chunk:
            return
        if self._stream_start.settled and self._reconnect_asked is None:
            self.ring.append_later(chunk, now)
        else:
            chunk, seq = self._start_or_cut(chunk, now)
            if seq is None:
                return
        quiet = self._quiet
        quiet.last = now
        if now >= quiet.rearm_at:
            quiet.arm(now)
        if now >= self._piggyback.due:
            self._piggyback.poke(now)
        self.audience.fanout(chunk)
        if self._data_waiters:
            self._wake_data_waiters()

    def _start_or_cut(self, chunk: bytes, now: float) -> tuple[bytes, int | None]:
        """A connection's start (clean picture, splice markers) or a forced reconnect's cut.

        Indexes the chunk at once, since both act on its join points. Returns
        what viewers get and its ring sequence (None: nothing for them yet).
        """
        self.ring.index_pending()  # the index sees chunks in order
        chunk, joins = self._stream_start.feed(chunk, self._index.scan(chunk), self._index)
        if self._reconnect_asked is not None and joins:
            # Cut right before a keyframe: every frame viewers got is whole.
            chunk, joins = chunk[: joins[0].offset], []
            self._cut = ("forced", f"reconnect asked: {self._reconnect_asked}")
            self._reconnect_asked = None
            if self._upstream is not None:
                self._upstream.close()  # the reader returns once this read is done
        if not chunk:
            return chunk, None
        if self.state != "playing":
            self.state = "playing"
            if self.first_byte_at is None:
                self.first_byte_at = time.time()
                self.events.first_byte(self, self.first_byte_at - self.created_at)
        return chunk, self.ring.append(chunk, joins, now)

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
            await self._piggyback.sleep(self._settings.stat_interval)
            stats = await self.link.stats()
            if stats is None:
                continue
            self.engine_stats = stats
            if self.sources is not None:
                self.sources.engine_stats(self.engine_stats)

    async def _heartbeat_loop(self) -> None:
        """Null packets for silent viewers; a stalled upstream is cut so it reconnects.

        A plain channel's heartbeat sleeps while data flows (silence.py) and
        beats every HEARTBEAT_SECONDS once its viewers have had nothing for
        SILENCE_BEFORE_FILLER; a named channel's beats all the time, since
        its sources are watched.
        """
        stall = self._settings.stall_seconds
        while True:
            if self.sources is None:
                await self._quiet.silence()
            now = self._loop.time()
            if now - self.last_sent_at >= SILENCE_BEFORE_FILLER:
                self.audience.send_filler()
            silent = now - self.last_data_at
            if silent >= stall and self._upstream is not None:
                self._cut_upstream("stall", f"upstream stalled for {stall:g} s")
            # A named channel's source that failed: the next one is spliced in.
            if self.sources is not None and (self._upstream or self._opening) and not self._cut:
                failed = self.sources.check(self.bytes_in)
                if failed is not None and self.sources.fail_over(failed):
                    self._cut_upstream("failover", f"failover: {failed}")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def _cut_upstream(self, cause: str, why: str) -> None:
        """End the connection (or its wait for headers); the reader reconnects and splices."""
        if self._cut is not None:
            return
        self._cut = (cause, why)
        if self._upstream is not None:
            self._upstream.close()
        elif self._opening is not None:
            self._opening.reschedule(self._loop.time())

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
        self.link.leave()
        self._cut_upstream("forced", f"moving to another engine: {reason}")

    def drop_viewer(self, viewer: Viewer, reason: str) -> None:
        """Disconnect a viewer at once, even when its socket is backed up."""
        self.audience.drop(viewer, reason)

    def describe(self) -> dict:
        info, source = self.info, self.link.source
        return {
            "id": self.key.value,
            "key": self.key.name,
            "source": source.name if self.sources is not None and source else None,
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


def _lasted(first_at: float | None, last_at: float) -> float | None:
    return None if first_at is None else last_at - first_at
