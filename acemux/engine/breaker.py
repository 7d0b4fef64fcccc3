"""A circuit breaker per engine: stop piling requests onto an engine that is down.

After `threshold` consecutive failures to reach the engine the breaker opens:
calls fail at once with 503 + Retry-After. Every `reset_seconds` one call is let
through as a probe (half-open); a success closes the breaker, a failure keeps it
open. Answers from a live engine (even errors) are not failures.
"""

from __future__ import annotations

import math
import time

from acemux.errors import EngineUnavailable


class CircuitBreaker:
    def __init__(self, threshold: int, reset_seconds: float, clock=time.monotonic) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None  # when it opened, or when the last probe went

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if self._clock() - self.opened_at < self.reset_seconds else "half_open"

    def retry_after(self) -> int | None:
        """Whole seconds until the next probe may go, while the breaker is open."""
        if self.opened_at is None:
            return None
        wait = self.opened_at + self.reset_seconds - self._clock()
        return max(1, math.ceil(wait)) if wait > 0 else None

    def check(self) -> None:
        """Raise EngineUnavailable unless a call may go to the engine now."""
        if self.opened_at is None:
            return
        retry_after = self.retry_after()
        if retry_after is None:
            # This call is the probe; the next one waits another period unless it succeeds.
            self.opened_at = self._clock()
            return
        err = EngineUnavailable("engine is failing; not trying it again yet")
        err.retry_after = retry_after
        raise err

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self._clock()
