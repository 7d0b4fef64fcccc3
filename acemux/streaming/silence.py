"""SilenceWatch: wakes a channel's heartbeat only once its viewers have had nothing for a while.

A heartbeat that polls (wake, look, sleep) costs a process wake-up each time,
and a wake-up is the expensive part: on a VM, ~100-600 µs of CPU for a timer
that finds nothing to do (benchmarks/wakeups.py), more than the reader's whole
work per chunk.
While data flows there is nothing to do, so the watch keeps one timer set
`after` seconds past the latest data and moves it forward from the reader
(`arm`) at most twice per `after`: the timer fires only when the data stops.
The reader's per-chunk cost is a store (`last`) and a comparison (`rearm_at`).
"""

from __future__ import annotations

import asyncio


class SilenceWatch:
    __slots__ = ("_loop", "_after", "_timer", "_waiter", "last", "rearm_at")

    def __init__(self, loop: asyncio.AbstractEventLoop, after: float) -> None:
        self._loop = loop
        self._after = after
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.last = loop.time()  # the latest data
        self.rearm_at = self.last  # the reader calls `arm` once its clock passes this

    def arm(self, now: float) -> None:
        """Data at `now`, past `rearm_at`: move the timer (the reader sets `last` itself)."""
        self.last = now
        self._set(now + self._after)

    def _set(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(at, self._fire)
        # Moved again no sooner than half-way: data in the second half moves it.
        self.rearm_at = at - self._after / 2

    def _fire(self) -> None:
        self._timer = None
        if self._loop.time() - self.last < self._after:
            self._set(self.last + self._after)  # data came before the half-way mark
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def silence(self) -> None:
        """Return once `after` seconds have passed since the latest data (at once if so)."""
        if self._loop.time() - self.last >= self._after:
            return
        if self._timer is None:
            self._set(self.last + self._after)
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
