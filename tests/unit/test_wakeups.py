"""Piggyback (acemux/wakeups.py) and SilenceWatch (acemux/streaming/silence.py) on a real loop."""

from __future__ import annotations

import asyncio

from acemux.streaming.silence import SilenceWatch
from acemux.wakeups import Piggyback, piggyback


async def test_a_chore_rides_on_a_poke_before_its_own_timer() -> None:
    loop = asyncio.get_running_loop()
    shared = Piggyback()
    sleeper = asyncio.ensure_future(shared.sleep(0.05, slack=30))
    await asyncio.sleep(0)
    assert shared.due <= loop.time() + 0.05
    shared.poke(loop.time())  # too early: nothing wakes
    await asyncio.sleep(0)
    assert not sleeper.done()
    shared.poke(loop.time() + 0.06)  # a read past its time: it wakes, long before slack
    await asyncio.wait_for(sleeper, 1)
    assert shared.due == float("inf") and not shared._sleepers


async def test_without_pokes_a_chore_wakes_after_its_slack() -> None:
    shared = Piggyback()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(3):
        await asyncio.wait_for(shared.sleep(0.01, slack=0.02), 1)
    assert loop.time() - start >= 0.09
    assert not shared._sleepers  # woken by their own timers, gone from the heap


async def test_a_cancelled_chore_leaves_the_heap() -> None:
    shared = Piggyback()
    sleeper = asyncio.ensure_future(shared.sleep(10))
    await asyncio.sleep(0)
    sleeper.cancel()
    await asyncio.gather(sleeper, return_exceptions=True)
    assert not shared._sleepers and shared.due == float("inf")


async def test_one_piggyback_per_loop() -> None:
    assert piggyback() is piggyback(asyncio.get_running_loop())


async def test_silence_watch_waits_for_silence_and_not_while_data_flows() -> None:
    loop = asyncio.get_running_loop()
    watch = SilenceWatch(loop, 0.4)
    waiting = asyncio.ensure_future(watch.silence())
    fired_early = False
    for _ in range(15):  # data every 20 ms for 0.3 s: never silent for 0.4 s
        await asyncio.sleep(0.02)
        now = loop.time()
        watch.last = now  # what the reader does per read ...
        if now >= watch.rearm_at:
            watch.arm(now)  # ... and, now and then, this
        fired_early = fired_early or waiting.done()
    assert not fired_early
    stopped = loop.time()
    await asyncio.wait_for(waiting, 2)
    assert loop.time() - stopped >= 0.4 - 0.005  # a full `after` of silence
    await asyncio.wait_for(watch.silence(), 0.01)  # still silent: at once
    watch.close()


async def test_silence_watch_counts_data_that_did_not_move_its_timer() -> None:
    loop = asyncio.get_running_loop()
    watch = SilenceWatch(loop, 0.1)
    watch.arm(loop.time())
    await asyncio.sleep(0.03)
    watch.last = loop.time()  # before the half-way mark: the timer was not moved
    mark = watch.last
    await asyncio.wait_for(watch.silence(), 1)
    assert loop.time() - mark >= 0.1 - 0.005  # measured from that data, not from the arm
    watch.close()
