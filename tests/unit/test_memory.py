"""MemoryTrimmer: closed channels' memory goes back to the system, at most once per interval."""

from __future__ import annotations

import asyncio

from acemux.streaming.memory import MemoryTrimmer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_close_trims_at_once_and_a_burst_of_closes_trims_once_more_later():
    clock = Clock()
    trimmer = MemoryTrimmer(interval=0.05, clock=clock)
    assert trimmer.available  # glibc: what acemux runs on (Debian, the Docker image)
    trimmer.channel_closed()
    assert trimmer.trims == 1, "the first close is trimmed at once"
    for _ in range(50):  # a burst of closes within the interval
        clock.now += 0.0001
        trimmer.channel_closed()
    assert trimmer.trims == 1
    await asyncio.sleep(0.1)  # the one trailing trim, covering the whole burst
    assert trimmer.trims == 2
    clock.now += 1.0
    trimmer.channel_closed()
    assert trimmer.trims == 3


async def test_the_last_channel_closing_trims_at_once():
    clock = Clock()
    trimmer = MemoryTrimmer(interval=60, clock=clock)
    trimmer.channel_closed()
    trimmer.channel_closed()  # within the interval: a trim is pending
    trimmer.channel_closed(last=True)
    assert trimmer.trims == 2
    await asyncio.sleep(0)
    assert trimmer._pending is None


async def test_a_pending_trim_is_cancelled_at_shutdown():
    clock = Clock()
    trimmer = MemoryTrimmer(interval=0.05, clock=clock)
    trimmer.channel_closed()
    trimmer.channel_closed()
    trimmer.cancel()
    await asyncio.sleep(0.1)
    assert trimmer.trims == 1
