"""A channel's source plan on its own: order, back-off, verdicts, and what it asks the engine."""

from __future__ import annotations

import pytest

from acemux.channels.catalogue import Channel
from acemux.channels.failover import AllSourcesFailed, SourcePlan
from acemux.channels.liveness import LivenessBook
from acemux.config import Settings
from acemux.engine.api import StreamInfo
from acemux.errors import EngineError, EngineTimeout
from acemux.streaming.key import ChannelKey

A, B, C = (ChannelKey("id", c * 40) for c in "abc")
SETTINGS = Settings(channel_backoff_seconds=60)
INFO = StreamInfo("http://e/p", "http://e/s", "http://e/c", "h" * 40, "session")


def plan(book: LivenessBook | None = None) -> SourcePlan:
    return SourcePlan(Channel("ch", "Ch", [A, B, C]), book or LivenessBook(), SETTINGS)


async def test_start_fails_over_refused_sources_and_lists_every_error_when_all_are() -> None:
    asked: list[ChannelKey] = []

    async def refuse_a(source: ChannelKey) -> StreamInfo:
        asked.append(source)
        if source == A:
            raise EngineError("engine error: failed to load content")
        return INFO

    p = plan()
    assert await p.start(refuse_a) == (B, INFO)
    assert asked == [A, B] and p.switches == 1

    async def refuse_all(source: ChannelKey) -> StreamInfo:
        asked.append(source)
        raise EngineError(f"engine error: no {source.value[0]}")

    book = LivenessBook()
    with pytest.raises(AllSourcesFailed) as caught:
        await plan(book).start(refuse_all)
    assert asked[2:] == [A, B, C]
    message = caught.value.message
    for key in (A, B, C):
        assert f"{key.value}: getstream failed: engine error: no {key.value[0]}" in message
    assert 55 <= caught.value.retry_after <= 60
    # A later session of the channel does not ask the engine while all of them back off.
    with pytest.raises(AllSourcesFailed):
        await plan(book).start(refuse_all)
    assert len(asked) == 5


async def test_engine_trouble_is_not_held_against_the_source() -> None:
    async def timeout(source: ChannelKey) -> StreamInfo:
        raise EngineTimeout("engine did not answer")

    p = plan()
    with pytest.raises(EngineTimeout):
        await p.start(timeout)
    assert p.source == A and p.switches == 0


def test_a_new_session_starts_on_the_first_source_out_of_back_off() -> None:
    book = LivenessBook()
    first = plan(book)
    assert first.source == A and first.on_preferred
    assert first.fail_over("no data for 20 s") and first.source == B
    assert first.on_preferred  # A backs off: B is the best there is
    assert plan(book).source == B  # A backs off: the next session skips it
    book[A].delivered()  # A worked again (e.g. another channel plays it)
    assert plan(book).source == A and first.source == B and not first.on_preferred


def test_when_no_other_source_is_usable_the_plan_stays_and_says_so() -> None:
    book = LivenessBook()
    p = plan(book)
    book[B].failed("dead", SETTINGS)
    book[C].failed("dead", SETTINGS)
    assert not p.fail_over("no data for 20 s")
    assert p.source == A and p.switches == 0
    with pytest.raises(AllSourcesFailed):
        p.begin()


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_verdicts_no_data_zero_peers_and_repeated_stalls() -> None:
    settings = Settings(
        channel_no_data_seconds=20, channel_zero_peers_seconds=5, channel_stall_count=2
    )
    clock = Clock()
    p = SourcePlan(Channel("ch", "Ch", [A, B]), LivenessBook(), settings, clock)
    p.begin()
    clock.now += 19
    assert p.check(0) is None  # takes the count
    assert p.check(0) is None  # 19 s without data: not yet
    clock.now += 1
    assert p.check(0) == "no data for 20 s"
    assert p.check(100) is None  # data came
    p.engine_stats({"peers": 0, "speed_down": 0})
    clock.now += 4
    assert p.check(100) is None
    clock.now += 1
    assert p.check(100) == "the engine reports 0 peers and no data came for 5 s"
    p.engine_stats({"peers": 8, "speed_down": 100})
    assert p.check(200) is None
    p.connection_ended("eof")
    p.connection_ended("stall")
    assert p.check(200) is None
    p.connection_ended("stall")
    assert p.check(300) is None  # data came: this check only notes it
    assert p.check(300) == "2 stalls within 120 s"
    clock.now += 121
    assert p.check(400) is None and p.check(400) is None  # the stalls left the window
