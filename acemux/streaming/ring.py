"""ChunkRing: a channel's recent data, shared by reference between all its viewers.

Chunks get absolute sequence numbers, so a viewer is just a cursor (the next
sequence it needs). The ring also remembers join points (see StreamIndex),
from which a new or skipped-ahead viewer can begin decoding.

The ring holds a span of time, not of bytes: chunks older than `max_seconds`
(by arrival) leave it, so a channel's memory follows its bitrate. Two rules
bound that: the chunk of the latest join point stays (a joiner always has a
place to start, even when a GOP is longer than the ring), and `max_bytes`
caps the whole, whatever the times say.
"""

from __future__ import annotations

import math
from collections import deque

from acemux.streaming.index import JoinPoint


class ChunkRing:
    __slots__ = (
        "max_bytes",
        "max_seconds",
        "_chunks",
        "_times",
        "_joins",
        "first_seq",
        "next_seq",
        "size",
    )

    def __init__(self, max_bytes: int, max_seconds: float = math.inf) -> None:
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._chunks: deque[bytes] = deque()
        self._times: deque[float] = deque()  # arrival time of each chunk
        self._joins: deque[tuple[int, JoinPoint]] = deque()  # (seq of its chunk, join)
        self.first_seq = 0  # sequence of the oldest chunk held
        self.next_seq = 0  # sequence the next appended chunk gets
        self.size = 0

    def hold_at_least(self, seconds: float) -> None:
        """Keep at least `seconds` of stream from now on (e.g. an HLS playlist's window)."""
        self.max_seconds = max(self.max_seconds, seconds)

    def append(self, chunk: bytes, joins: list[JoinPoint] | None = None, now: float = 0.0) -> int:
        """Add a chunk that arrived at `now` (the event loop's clock); return its sequence."""
        seq = self.next_seq
        self._chunks.append(chunk)
        self._times.append(now)
        self.next_seq = seq + 1
        self.size += len(chunk)
        if joins:
            self._joins.extend((seq, join) for join in joins)
        # The byte cap: keep at least the newest chunk, whatever its size.
        while self.size > self.max_bytes and len(self._chunks) > 1:
            self._evict_oldest()
        horizon = now - self.max_seconds
        if self._times[0] < horizon:
            keep = self._joins[-1][0] if self._joins else seq
            while self.first_seq < keep and self._times[0] < horizon:
                self._evict_oldest()
        while self._joins and self._joins[0][0] < self.first_seq:
            self._joins.popleft()
        return seq

    def clear(self) -> None:
        """Let go of every chunk at once (a closed channel); sequence numbers stay."""
        self._chunks.clear()
        self._joins.clear()
        self._times.clear()
        self.first_seq = self.next_seq
        self.size = 0

    def _evict_oldest(self) -> None:
        self.size -= len(self._chunks.popleft())
        self._times.popleft()
        self.first_seq += 1

    def get(self, seq: int) -> bytes | None:
        """The chunk at `seq`, or None when it was evicted or does not exist yet."""
        if self.first_seq <= seq < self.next_seq:
            return self._chunks[seq - self.first_seq]
        return None

    def latest_join(self) -> tuple[int, JoinPoint] | None:
        return self._joins[-1] if self._joins else None

    def joins(self) -> list[tuple[int, JoinPoint]]:
        """Every join point still held, oldest first, with the sequence of its chunk."""
        return list(self._joins)

    def seconds_held(self) -> float:
        """Time between the oldest and the newest chunk's arrival."""
        return self._times[-1] - self._times[0] if self._times else 0.0

    def __len__(self) -> int:
        return len(self._chunks)
