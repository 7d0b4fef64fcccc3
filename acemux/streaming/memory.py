"""Give the memory of closed channels back to the system, not only to the allocator.

A channel's buffer is thousands of chunk-sized `bytes` objects. When a channel
closes they are freed, but glibc's malloc keeps freed heap pages for reuse, so
the process stays as large as its busiest moment: after a burst of zapping,
tens of MiB that no channel uses. `malloc_trim(0)` hands free pages back to
the kernel. It walks the heap (about 5 ms when it frees ~100 MiB, nothing when
there is nothing to free), so while channels keep closing it runs at most once
per TRIM_INTERVAL: right after a close when none ran recently, else once at the
end of the interval, covering every close in between. When the last channel
closes it runs at once. Without glibc it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from typing import Callable

log = logging.getLogger(__name__)

TRIM_INTERVAL = 1.0


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


class MemoryTrimmer:
    def __init__(self, interval: float = TRIM_INTERVAL, clock=time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._pending: asyncio.TimerHandle | None = None
        self.trims = 0

    @property
    def available(self) -> bool:
        return _malloc_trim is not None

    def channel_closed(self, last: bool = False) -> None:
        """A channel let go of its buffer (`last`: no channel is left): trim now or soon."""
        if _malloc_trim is None:
            return
        if last:
            self.cancel()
        elif self._pending is not None:
            return
        now = self._clock()
        if last or self._last is None or now - self._last >= self._interval:
            self.trim()
        else:
            wait = self._last + self._interval - now
            self._pending = asyncio.get_running_loop().call_later(wait, self.trim)

    def trim(self) -> None:
        self._pending = None
        self._last = self._clock()
        if _malloc_trim is not None:
            _malloc_trim(0)
            self.trims += 1

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
