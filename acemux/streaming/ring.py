"""ChunkRing: a channel's recent data, shared by reference between all its viewers.

Chunks get absolute sequence numbers, so a viewer is just a cursor (the next
sequence it needs). The ring also remembers join points (see StreamIndex),
from which a new or skipped-ahead viewer can begin decoding.

The ring holds a span of time, not of bytes: chunks older than `max_seconds`
(by arrival) leave it, so a channel's memory follows its bitrate. Two rules
bound that: the chunk of the latest join point stays (a joiner always has a
place to start, even when a GOP is longer than the ring), and `max_bytes`
caps the whole, whatever the times say.

Join points may be found later than their chunks arrive (`append_later`):
in steady state the reader only appends, and the ring runs the indexer over
the chunks it has not indexed yet in one batch, when somebody asks for a join
point or every INDEX_BATCH chunks. Scanning each chunk as it comes cost the
reader a cold pass of Python per chunk; a batch runs warm. Chunks are indexed
in order, and none leaves the ring before it was indexed.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

from acemux.streaming.index import JoinPoint

# Chunks appended unindexed before the ring indexes them anyway: at 25 chunks a
# second, about half a second of stream.
INDEX_BATCH = 16


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
        "_indexer",
        "_indexed_to",
    )

    def __init__(
        self,
        max_bytes: int,
        max_seconds: float = math.inf,
        indexer: Callable[[bytes], list[JoinPoint]] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._chunks: deque[bytes] = deque()
        self._times: deque[float] = deque()  # arrival time of each chunk
        self._joins: deque[tuple[int, JoinPoint]] = deque()  # (seq of its chunk, join)
        self.first_seq = 0  # sequence of the oldest chunk held
        self.next_seq = 0  # sequence the next appended chunk gets
        self.size = 0
        self._indexer = indexer  # finds a chunk's join points (for append_later)
        self._indexed_to = 0  # sequence of the first chunk not indexed yet

    def hold_at_least(self, seconds: float) -> None:
        """Keep at least `seconds` of stream from now on (e.g. an HLS playlist's window)."""
        self.max_seconds = max(self.max_seconds, seconds)

    def append(self, chunk: bytes, joins: list[JoinPoint] | None = None, now: float = 0.0) -> int:
        """Add an indexed chunk that arrived at `now` (the event loop's clock); return its seq.

        Its join points were found by the caller, so every chunk before it must
        have been indexed (see `index_pending`).
        """
        assert self._indexed_to == self.next_seq, "index_pending() before an indexed append"
        seq = self._add(chunk, now)
        self._indexed_to = seq + 1
        if joins:
            self._joins.extend((seq, join) for join in joins)
        self._evict(now)
        return seq

    def append_later(self, chunk: bytes, now: float = 0.0) -> int:
        """Add a chunk whose join points the ring finds itself, later; return its sequence."""
        seq = self._add(chunk, now)
        if seq - self._indexed_to >= INDEX_BATCH or self.size > self.max_bytes:
            self.index_pending()
        if self._times[0] < now - self.max_seconds or self.size > self.max_bytes:
            self._evict(now)
        return seq

    def index_pending(self) -> None:
        """Find the join points of every chunk appended with `append_later`, in order."""
        first = self._indexed_to
        if first == self.next_seq or self._indexer is None:
            self._indexed_to = self.next_seq
            return
        scan, chunks, joins = self._indexer, self._chunks, self._joins
        for seq in range(first, self.next_seq):
            found = scan(chunks[seq - self.first_seq])
            if found:
                joins.extend((seq, join) for join in found)
        self._indexed_to = self.next_seq

    def _add(self, chunk: bytes, now: float) -> int:
        seq = self.next_seq
        self._chunks.append(chunk)
        self._times.append(now)
        self.next_seq = seq + 1
        self.size += len(chunk)
        return seq

    def _evict(self, now: float) -> None:
        chunks, times, joins = self._chunks, self._times, self._joins
        # The byte cap: keep at least the newest chunk, whatever its size.
        while self.size > self.max_bytes and len(chunks) > 1:
            self._evict_oldest()
        horizon = now - self.max_seconds
        if times[0] < horizon:
            # Kept: the latest join point's chunk, and every chunk not indexed yet.
            keep = min(joins[-1][0] if joins else self.next_seq, self._indexed_to)
            while self.first_seq < keep and times[0] < horizon:
                self.size -= len(chunks.popleft())
                times.popleft()
                self.first_seq += 1
        while joins and joins[0][0] < self.first_seq:
            joins.popleft()

    def clear(self) -> None:
        """Let go of every chunk at once (a closed channel); sequence numbers stay."""
        self._chunks.clear()
        self._joins.clear()
        self._times.clear()
        self.first_seq = self._indexed_to = self.next_seq
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
        self.index_pending()
        return self._joins[-1] if self._joins else None

    def joins(self) -> list[tuple[int, JoinPoint]]:
        """Every join point still held, oldest first, with the sequence of its chunk."""
        self.index_pending()
        return list(self._joins)

    def seconds_held(self) -> float:
        """Time between the oldest and the newest chunk's arrival."""
        return self._times[-1] - self._times[0] if self._times else 0.0

    def __len__(self) -> int:
        return len(self._chunks)
