"""ReconnectPolicy: what a channel does when its upstream connection ends.

Wait how long, ask the engine for a new session (on another engine when the
pool has one), or give up. A connection counts as healthy only when it
delivered `upstream_young_seconds` of data or more: one that dies young (an
engine that drops every connection after ~100 KB) is a failure like one that
delivered nothing, so the backoff grows, the second failure in a row brings a
new engine session instead of the same URL again, and the retry budget ends a
channel that never recovers, with a reason that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from acemux.config import Settings

# Connections acemux ended itself (a reconnect asked for, a failover to another
# source): the next one opens at once and the count starts over.
AT_ONCE = ("forced", "failover")


@dataclass(frozen=True, slots=True)
class Decision:
    delay: float  # seconds to wait before the next attempt
    new_session: bool  # ask the engine anew (another engine if there is one)
    give_up: str | None = None  # why the channel ends, when it does
    young: bool = False  # the connection delivered data, but too little to count as healthy


class ReconnectPolicy:
    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self.failures = 0  # failed or young connections in a row (a healthy one counts as 1)
        self._failing_since: float | None = None

    def connection_ended(self, data_seconds: float | None, cause: str, reason: str) -> Decision:
        """One connection ended: `data_seconds` from its first to its last byte (None: none)."""
        s, now = self._settings, self._clock()
        young = data_seconds is not None and data_seconds < s.upstream_young_seconds
        if cause in AT_ONCE or (data_seconds is not None and not young):
            # It was healthy, or acemux ended it on purpose (a new source gets a
            # budget of its own): start over.
            self.failures, self._failing_since = 0, now
        elif self._failing_since is None:
            self._failing_since = now
        self.failures += 1
        failing_for = now - self._failing_since
        if failing_for >= s.retry_budget_seconds:
            why = f"{reason}; gave up after {self.failures} failed connections"
            why += f" in {failing_for:.0f} s"
            if young:
                why += f" (each delivered under {s.upstream_young_seconds:g} s of data)"
            return Decision(0.0, False, give_up=why, young=young)
        if cause in AT_ONCE:
            return Decision(0.0, False)
        delay = min(s.reconnect_max_delay, s.reconnect_first_delay * 2 ** (self.failures - 1))
        # The same playback URL already failed once: ask the engine anew.
        return Decision(delay, self.failures > 1, young=young)
