"""A channel session's source plan: which of its sources to play, and when to move on.

The session lets `start()` ask the engine for its sources in turn (a source
the engine refuses is failed over at once), and tells the plan what happened:
a connection's first data, a connection that ended (and how), the engine's
statistics. Its heartbeat asks `check()` whether the source has
failed (no data within the limit, 0 peers and no data, repeated stalls); if
so the session calls `fail_over()` and reconnects to the source the plan moved
to with the same splice as any reconnect, so viewers stay connected.

Sources are taken in their order, skipping those in back-off. A session
starts on the first usable one, so a recovered primary is preferred again
when the channel next starts, never by cutting a source that plays.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from acemux.channels.catalogue import Channel
from acemux.channels.liveness import LivenessBook
from acemux.config import Settings
from acemux.engine.api import StreamInfo
from acemux.errors import AcemuxError, EngineError
from acemux.streaming.key import ChannelKey

log = logging.getLogger(__name__)


class AllSourcesFailed(AcemuxError):
    """Every source of a channel failed lately; each is backing off."""

    status = 503
    code = "channel_unavailable"
    retry_after = 30


class SourcePlan:
    def __init__(
        self,
        channel: Channel,
        book: LivenessBook,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self._clock = clock
        self._book = book
        self._settings = settings
        self._index = self._first_usable(start=0) or 0
        self.switches = 0
        self._begun_at = 0.0  # monotonic: the current source was asked for
        self._progress_at = 0.0  # monotonic: bytes last grew
        self._bytes = -1  # the session's bytes_in when last checked (-1: not yet)
        self._delivered = False  # the current source sent data since begin()
        self._stalls: deque[float] = deque()  # the current source's, since begin()
        self._begun: ChannelKey | None = None  # the source last begun

    @property
    def source(self) -> ChannelKey:
        return self.channel.sources[self._index]

    def _first_usable(self, start: int) -> int | None:
        """The first source from `start` on (wrapping) not backing off; None when all are."""
        count = len(self.channel.sources)
        for step in range(count):
            index = (start + step) % count
            if not self._book[self.channel.sources[index]].backing_off():
                return index
        return None

    @property
    def on_preferred(self) -> bool:
        """Playing the first source not backing off (the primary, when it is usable)."""
        first = self._first_usable(start=0)
        return first is None or first == self._index

    # -- what the session asks -----------------------------------------------------

    def begin(self) -> ChannelKey:
        """The source to ask the engine for now; AllSourcesFailed when all back off.

        Asking again for the same source (a reconnect) keeps its clocks: its
        no-data time and stalls count across reconnects.
        """
        if self._book[self.source].backing_off():
            usable = self._first_usable(self._index)  # one may have come out of it
            if usable is None:
                raise self.unavailable()
            self._index = usable
        if self.source != self._begun:
            self._begun = self.source
            self._begun_at = self._progress_at = self._clock()
            self._bytes = -1
            self._delivered = False
            self._stalls.clear()
            self._book[self.source].peers = None  # this session's statistics, not old ones
        return self.source

    async def start(
        self, getstream: Callable[[ChannelKey], Awaitable[StreamInfo]]
    ) -> tuple[ChannelKey, StreamInfo]:
        """Ask the engine for the sources in turn until one answers: (source, its session).

        A source the engine refuses is failed over at once; AllSourcesFailed
        when every source backs off. Engine trouble (unreachable, timeouts) is
        not the source's fault and is raised as it is.
        """
        while True:
            source = self.begin()
            try:
                return source, await getstream(source)
            except EngineError as err:
                self.fail_over(f"getstream failed: {err.message}")

    def check(self, bytes_in: int) -> str | None:
        """Why the playing source counts as failed now, or None (called ~4 times a second)."""
        now = self._clock()
        if bytes_in != self._bytes:
            if self._bytes >= 0:  # the first call only takes the count
                self._progressed(now)
            self._bytes = bytes_in
            return None
        s = self._settings
        silent = now - self._progress_at
        if silent >= s.channel_no_data_seconds:
            return f"no data for {silent:.0f} s"
        health = self._book[self.source]
        if health.peers == 0 and silent >= s.channel_zero_peers_seconds:
            return f"the engine reports 0 peers and no data came for {silent:.0f} s"
        while self._stalls and self._stalls[0] < now - s.channel_stall_window_seconds:
            self._stalls.popleft()
        if len(self._stalls) >= s.channel_stall_count:
            return f"{len(self._stalls)} stalls within {s.channel_stall_window_seconds:g} s"
        return None

    def _progressed(self, now: float) -> None:
        health = self._book[self.source]
        health.delivered(None if self._delivered else now - self._begun_at)
        self._delivered = True
        self._progress_at = now

    def fail_over(self, reason: str) -> bool:
        """The current source failed: back it off, move to the next usable one.

        True when the source changed; False when no other source is usable
        (the session then keeps trying, and begin() refuses once all back off).
        """
        failed = self.source
        self._book[failed].failed(reason, self._settings)
        self._progress_at = self._clock()  # the next verdict after another full limit
        self._stalls.clear()
        usable = self._first_usable(self._index + 1)
        changed = usable is not None and usable != self._index
        if usable is not None:
            self._index = usable
        if changed:
            self.switches += 1
        log.warning(
            "channel %s: source %s failed (%s); %s",
            self.channel.slug,
            failed.name,
            reason,
            f"switching to {self.source.name}" if changed else "no other source is usable",
        )
        return changed

    # -- what the session tells ----------------------------------------------------

    def delivered(self) -> None:
        """A connection's first data arrived."""
        self._progressed(self._clock())

    def connection_ended(self, cause: str) -> None:
        if cause == "stall":
            self._stalls.append(self._clock())
            self._book[self.source].stalled()

    def engine_stats(self, stats: dict | None) -> None:
        if stats is not None:
            self._book[self.source].engine_stats(stats)

    def unavailable(self) -> AllSourcesFailed:
        healths = [self._book[key] for key in self.channel.sources]
        errors = "; ".join(f"{h.key.name}: {h.last_error or 'not tried'}" for h in healths)
        err = AllSourcesFailed(f"channel {self.channel.slug}: every source failed ({errors})")
        waits = [h.retry_in() for h in healths if h.backing_off()]
        err.retry_after = max(1, math.ceil(min(waits))) if waits else AllSourcesFailed.retry_after
        return err
