"""ReconnectPolicy: young connections fail, backoff grows, new sessions, the budget ends it."""

from __future__ import annotations

from acemux.config import Settings
from acemux.streaming.retry import ReconnectPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def policy(**overrides) -> tuple[ReconnectPolicy, Clock]:
    values = dict(reconnect_first_delay=0.1, reconnect_max_delay=5.0, retry_budget_seconds=60.0)
    values.update(overrides)
    clock = Clock()
    return ReconnectPolicy(Settings(**values), clock), clock


def test_a_connection_that_dies_young_is_a_failure_and_the_backoff_grows():
    p, clock = policy()
    delays, sessions = [], []
    for _ in range(8):
        decision = p.connection_ended(0.9, "eof", "upstream ended")  # ~100 KB at 0.9 Mbit/s
        assert decision.young and decision.give_up is None
        delays.append(decision.delay)
        sessions.append(decision.new_session)
        clock.now += 0.9 + decision.delay
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert sessions == [False] + [True] * 7  # the second failure brings a new engine session


def test_a_healthy_connection_starts_over_on_the_same_url():
    p, clock = policy()
    for _ in range(3):
        p.connection_ended(None, "open_failed", "refused")
    decision = p.connection_ended(5.0, "eof", "upstream ended")
    assert (decision.delay, decision.new_session, decision.young) == (0.1, False, False)
    assert p.failures == 1


def test_the_budget_ends_a_flapping_channel_with_a_clear_reason():
    p, clock = policy(retry_budget_seconds=10.0)
    decision = p.connection_ended(0.5, "eof", "upstream ended")
    while decision.give_up is None:
        clock.now += 0.5 + decision.delay
        decision = p.connection_ended(0.5, "eof", "upstream ended")
    assert decision.give_up.startswith("upstream ended; gave up after ")
    assert decision.give_up.endswith("(each delivered under 5 s of data)")
    assert clock.now - 100.0 >= 10.0


def test_a_forced_reconnect_is_at_once_and_counts_as_healthy():
    p, _ = policy()
    p.connection_ended(None, "error", "reset")
    decision = p.connection_ended(0.2, "forced", "reconnect asked")
    assert (decision.delay, decision.new_session, decision.give_up) == (0.0, False, None)
    assert p.failures == 1


def test_a_failover_to_another_source_is_at_once_with_a_fresh_budget():
    p, clock = policy(retry_budget_seconds=10.0)
    for _ in range(4):
        p.connection_ended(0.5, "eof", "upstream ended")
        clock.now += 3.0
    decision = p.connection_ended(None, "failover", "failed over")
    assert (decision.delay, decision.new_session, decision.give_up) == (0.0, False, None)
    clock.now += 9.0  # within the new source's own budget
    assert p.connection_ended(None, "open_failed", "refused").give_up is None
