"""ChunkRing: a channel's recent data, shared by reference between all its viewers.

Chunks get absolute sequence numbers, so a viewer is just a cursor (the next
sequence it needs). The ring also remembers join points (see StreamIndex),
from which a new or skipped-ahead viewer can begin decoding.
"""

from __future__ import annotations

from collections import deque

from acemux.streaming.index import JoinPoint


class ChunkRing:
    __slots__ = ("max_bytes", "_chunks", "_joins", "first_seq", "next_seq", "size")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._chunks: deque[bytes] = deque()
        self._joins: deque[tuple[int, JoinPoint]] = deque()  # (seq of its chunk, join)
        self.first_seq = 0  # sequence of the oldest chunk held
        self.next_seq = 0  # sequence the next appended chunk gets
        self.size = 0

    def append(self, chunk: bytes, joins: list[JoinPoint] | None = None) -> int:
        seq = self.next_seq
        self._chunks.append(chunk)
        self.next_seq = seq + 1
        self.size += len(chunk)
        if joins:
            self._joins.extend((seq, join) for join in joins)
        # Keep at least the newest chunk, whatever its size.
        while self.size > self.max_bytes and len(self._chunks) > 1:
            self.size -= len(self._chunks.popleft())
            self.first_seq += 1
        while self._joins and self._joins[0][0] < self.first_seq:
            self._joins.popleft()
        return seq

    def clear(self) -> None:
        """Let go of every chunk at once (a closed channel); sequence numbers stay."""
        self._chunks.clear()
        self._joins.clear()
        self.first_seq = self.next_seq
        self.size = 0

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

    def __len__(self) -> int:
        return len(self._chunks)
