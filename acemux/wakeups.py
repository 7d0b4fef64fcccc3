"""Periodic chores that ride on wake-ups the process has anyway.

A process wake-up for a timer costs far more than the chore it runs (on a VM,
~100-600 µs of CPU for a timer that finds little to do: benchmarks/wakeups.py;
a channel's reader is awake 25 times a second anyway). The bitrate sampler,
the engine health checks and the engine statistics polls sleep with
`Piggyback.sleep`: they wake at the first channel read after their time (the
reader calls `poke` when its clock passes `due`: one comparison per read) or,
when no channel reads, `slack` seconds later on their own timer.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import weakref

DEFAULT_SLACK = 0.25  # seconds a chore may wait for a read to ride on

_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Piggyback]" = (
    weakref.WeakKeyDictionary()
)


class Piggyback:
    __slots__ = ("due", "_sleepers", "_order", "__weakref__")

    def __init__(self) -> None:
        self.due = math.inf  # the earliest sleeper's time (the loop's clock)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def sleep(self, delay: float, slack: float = DEFAULT_SLACK) -> None:
        """Sleep `delay` seconds, up to `slack` more when no read comes to ride on."""
        loop = asyncio.get_running_loop()
        at = loop.time() + delay
        waiter = loop.create_future()
        heapq.heappush(self._sleepers, (at, next(self._order), waiter))
        self.due = self._sleepers[0][0]
        fallback = loop.call_at(at + slack, _wake, waiter)
        try:
            await waiter
        finally:
            fallback.cancel()
            waiter.cancel()  # done already, unless the sleep itself was cancelled
            self._prune()

    def poke(self, now: float) -> None:
        """A read at `now`, past `due`: wake every sleeper whose time has come."""
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= now:
            _wake(heapq.heappop(sleepers)[2])
        self._prune()

    def _prune(self) -> None:
        # Sleepers woken by their own timer, or cancelled, leave from the top.
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].done():
            heapq.heappop(sleepers)
        self.due = sleepers[0][0] if sleepers else math.inf


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def piggyback(loop: asyncio.AbstractEventLoop | None = None) -> Piggyback:
    """The event loop's Piggyback (the running loop's by default)."""
    loop = loop or asyncio.get_running_loop()
    shared = _by_loop.get(loop)
    if shared is None:
        shared = _by_loop[loop] = Piggyback()
    return shared
