import pytest

from acemux.engine.breaker import CircuitBreaker
from acemux.errors import EngineUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_probes_after_reset():
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, reset_seconds=10, clock=clock)
    for _ in range(2):
        breaker.check()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(EngineUnavailable) as caught:
        breaker.check()
    assert caught.value.retry_after == 10
    clock.now += 10
    assert breaker.state == "half_open"
    breaker.check()  # the probe goes through
    with pytest.raises(EngineUnavailable):
        breaker.check()  # others keep failing fast while it is out
    breaker.failure()
    assert breaker.state == "open"
    clock.now += 10
    breaker.check()
    breaker.success()
    assert breaker.state == "closed"
    breaker.check()


def test_a_lost_probe_does_not_keep_it_open_for_ever():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, reset_seconds=5, clock=clock)
    breaker.failure()
    clock.now += 5
    breaker.check()  # probe sent, never reported back (e.g. cancelled)
    clock.now += 5
    breaker.check()  # a new probe is allowed
