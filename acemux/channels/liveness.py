"""What acemux saw of each source, remembered across channel sessions.

A source (one content id or infohash with its parameters) gets a score from
its record: how fast it delivered a first byte, how often it stalled or
failed, the peers and speed the engine reported, and when it last worked. A
failed source is backed off (doubling with each failure in a row) so a
channel does not keep trying a dead id; a source that delivers again is
forgiven at once.
"""

from __future__ import annotations

import time
from collections import deque

from acemux.config import Settings
from acemux.streaming.key import ChannelKey

RECENT_STALLS = 16  # stall times kept per source


class SourceHealth:
    def __init__(self, key: ChannelKey) -> None:
        self.key = key
        self.ttfb_seconds: float | None = None  # getstream to first byte, latest
        self.stalls: deque[float] = deque(maxlen=RECENT_STALLS)  # monotonic times
        self.failures = 0  # in a row, since it last delivered
        self.total_failures = 0
        self.peers: int | None = None
        self.speed_down: int | None = None  # KiB/s, as the engine reports it
        self.last_success_at: float | None = None  # wall time of its latest data
        self.last_error: str | None = None
        self.retry_at = 0.0  # monotonic: not tried before this (its back-off)

    def delivered(self, ttfb: float | None = None) -> None:
        if ttfb is not None:
            self.ttfb_seconds = ttfb
        self.failures = 0
        self.retry_at = 0.0
        self.last_success_at = time.time()

    def stalled(self) -> None:
        self.stalls.append(time.monotonic())

    def recent_stalls(self, window: float) -> int:
        since = time.monotonic() - window
        return sum(1 for at in self.stalls if at >= since)

    def failed(self, reason: str, settings: Settings) -> None:
        self.failures += 1
        self.total_failures += 1
        self.last_error = reason
        backoff = settings.channel_backoff_seconds * 2 ** (self.failures - 1)
        self.retry_at = time.monotonic() + min(backoff, settings.channel_backoff_max_seconds)

    def engine_stats(self, stats: dict) -> None:
        if "error" in stats:
            return
        peers, speed = stats.get("peers"), stats.get("speed_down")
        self.peers = peers if isinstance(peers, int) else None
        self.speed_down = speed if isinstance(speed, int) else None

    def backing_off(self) -> bool:
        return time.monotonic() < self.retry_at

    def retry_in(self) -> float:
        return max(self.retry_at - time.monotonic(), 0.0)

    def live(self, within: float) -> bool:
        """Delivered within `within` seconds and not failed since."""
        seen = self.last_success_at
        return seen is not None and self.failures == 0 and time.time() - seen <= within

    def score(self, settings: Settings) -> int:
        """0 (dead) … 100 (fast, steady, well seeded, working now)."""
        score = 50.0
        if self.live(settings.channel_live_seconds):
            score += 25
        score -= 15 * min(self.failures, 3)
        score -= 5 * min(self.recent_stalls(settings.channel_stall_window_seconds), 4)
        if self.ttfb_seconds is not None:
            score += 10 - min(self.ttfb_seconds, 20.0)  # +10 when instant, -10 at 20 s
        if self.peers is not None:
            score += min(self.peers, 10) - (10 if self.peers == 0 else 0)
        if self.speed_down:
            score += 5
        return round(min(max(score, 0.0), 100.0))

    def describe(self, settings: Settings, playing: bool) -> dict:
        if playing:
            state = "playing"
        elif self.backing_off():
            state = "backoff"
        elif self.failures:
            state = "failed"
        elif self.last_success_at is not None:
            state = "ok"
        else:
            state = "untried"
        return {
            "state": state,
            "score": self.score(settings),
            "time_to_first_byte_seconds": self.ttfb_seconds,
            "stalls_in_window": self.recent_stalls(settings.channel_stall_window_seconds),
            "failures": self.failures,
            "total_failures": self.total_failures,
            "peers": self.peers,
            "speed_down": self.speed_down,
            "last_success_at": self.last_success_at,
            "last_error": self.last_error,
            "retry_in_seconds": round(self.retry_in(), 1) if self.backing_off() else None,
        }


class LivenessBook:
    """Every source's health by key: one record per id, whichever channel plays it."""

    def __init__(self) -> None:
        self._health: dict[ChannelKey, SourceHealth] = {}

    def __getitem__(self, key: ChannelKey) -> SourceHealth:
        health = self._health.get(key)
        if health is None:
            health = self._health[key] = SourceHealth(key)
        return health
