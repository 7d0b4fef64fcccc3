"""What the fake engine has been asked and has sent, for tests to assert on.

Every change goes through a Stats method that wakes `wait_for` waiters, so a
test awaits a condition ("one open playback connection") instead of polling.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from multidict import CIMultiDict

RECORDED_REQUESTS = 100


class Stats:
    def __init__(self) -> None:
        self.getstream_calls = 0
        self.getstream_calls_by_id: Counter[str] = Counter()  # by the selector's value
        self.stat_calls = 0
        self.playback_connections = 0  # accepted playback connections, ever
        self.open_playback = 0
        self.stop_calls = 0  # including stops of sessions already gone
        # By playback_session_id; a session a newer one replaced counts its first stop too.
        self.stop_calls_by_session: Counter[str] = Counter()
        self.bytes_sent = 0  # playback body bytes, all connections
        # Headers of the latest requests, case-insensitive ("accept-encoding" works).
        self.getstream_headers: deque[CIMultiDict[str]] = deque(maxlen=RECORDED_REQUESTS)
        self.playback_headers: deque[CIMultiDict[str]] = deque(maxlen=RECORDED_REQUESTS)
        self._changed: asyncio.Event | None = None

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for(self, predicate: Callable[[Stats], bool], timeout: float = 5.0) -> None:
        """Return once predicate(stats) holds; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()

    def record_getstream(self, content_key: str, headers: Mapping[str, str]) -> None:
        self.getstream_calls += 1
        self.getstream_calls_by_id[content_key] += 1
        self.getstream_headers.append(CIMultiDict(headers))
        self._notify()

    def record_stat(self) -> None:
        self.stat_calls += 1
        self._notify()

    def record_playback_request(self, headers: Mapping[str, str]) -> None:
        self.playback_headers.append(CIMultiDict(headers))
        self._notify()

    def playback_opened(self) -> None:
        self.playback_connections += 1
        self.open_playback += 1
        self._notify()

    def playback_closed(self) -> None:
        self.open_playback -= 1
        self._notify()

    def record_stop(self, playback_session_id: str | None) -> None:
        self.stop_calls += 1
        if playback_session_id is not None:
            self.stop_calls_by_session[playback_session_id] += 1
        self._notify()

    def record_sent(self, size: int) -> None:
        self.bytes_sent += size
        self._notify()

    def to_json(self) -> dict[str, Any]:
        return {
            "getstream_calls": self.getstream_calls,
            "getstream_calls_by_id": dict(self.getstream_calls_by_id),
            "stat_calls": self.stat_calls,
            "playback_connections": self.playback_connections,
            "open_playback": self.open_playback,
            "stop_calls": self.stop_calls,
            "stop_calls_by_session": dict(self.stop_calls_by_session),
            "bytes_sent": self.bytes_sent,
            "getstream_headers": [dict(h) for h in self.getstream_headers],
            "playback_headers": [dict(h) for h in self.playback_headers],
        }
