"""HLS segments cut from a channel's ring at its join points, and the live playlist.

acemux packages HLS itself from the channel's one TS session: the engine drops
a content's TS session when an HLS one starts, so both cannot run at once. A
segment is a range of ring chunks from one join point to a later one. It
starts with PAT, PMT and a keyframe, so it decodes on its own, and it is
served straight from the ring's chunks: the ring is the segment cache, and the
channel's one upstream connection is the only fetch.

Consecutive join points are merged until a segment spans the target duration,
timed by the keyframes' PTS. Segments are numbered once, when they complete,
so a number names the same data for its whole life.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from acemux.streaming.index import JoinPoint
from acemux.streaming.ring import ChunkRing

TS_CLOCK = 90_000
PTS_MASK = (1 << 33) - 1  # PTS is a 33-bit counter that wraps every ~26.5 hours
# Keyframes further apart than this are a jump in the timeline, not a long GOP.
MAX_KEYFRAME_GAP = 30 * TS_CLOCK
# A segment may end a little short of the target: a GOP of 0.96 s must not
# make 2.88-s segments of a 2-s target.
TARGET_SLACK = 0.95
WINDOW = 6  # segments listed in the live playlist

Piece = bytes | memoryview


@dataclass(frozen=True, slots=True)
class Segment:
    number: int  # its media sequence number
    start_seq: int  # ring chunk and offset where it starts
    start_offset: int
    prefix: bytes  # PAT and PMT copies sent before the data
    end_seq: int  # ring chunk and offset where the next segment starts
    end_offset: int
    duration: float  # seconds
    discontinuity: bool  # follows a splice, a timestamp jump or lost data
    discontinuity_sequence: int  # discontinuities so far, its own included


@dataclass(frozen=True, slots=True)
class _Start:
    seq: int
    offset: int
    prefix: bytes
    pts: int
    discontinuity: bool


class Segmenter:
    """Cuts a ring's join points into numbered segments, on demand (`update`)."""

    def __init__(self, ring: ChunkRing, target_seconds: float) -> None:
        self._ring = ring
        # The ring must hold every listed segment, the one being cut and one to spare.
        ring.hold_at_least((WINDOW + 2) * target_seconds)
        self._target = round(target_seconds * TS_CLOCK * TARGET_SLACK)
        self.segments: deque[Segment] = deque()  # complete ones whose data is still held
        self.max_duration = 0.0  # of every segment cut so far
        self._next_number = 0
        self._discontinuities = 0
        self._start: _Start | None = None  # of the segment being gathered
        self._last_pts = 0  # of the newest keyframe in it
        self._gop = round(target_seconds * TS_CLOCK)  # newest keyframe interval
        self._seen = (-1, -1)  # (seq, offset) of the newest join point looked at
        self._lost = False  # data went out of the ring before it became a segment
        self.untimed_joins = 0  # join points without a PTS (audio only): never a segment

    def update(self) -> None:
        """Forget segments that left the ring; cut new ones from new join points."""
        first = self._ring.first_seq
        while self.segments and self.segments[0].start_seq < first:
            self.segments.popleft()
        if self._start is not None and self._start.seq < first:
            self._start = None
            self._lost = True
        for seq, join in self._ring.joins():
            if (seq, join.offset) > self._seen:
                self._seen = (seq, join.offset)
                self._add(seq, join)

    def _add(self, seq: int, join: JoinPoint) -> None:
        if join.pts is None:
            self.untimed_joins += 1  # no timestamp (an audio-only join): it cannot time a segment
            return
        splice = join.splice
        start = self._start
        if start is None:
            lost, self._lost = self._lost, False
            self._begin(seq, join, (lost or splice) and self._next_number > 0)
            return
        step = (join.pts - self._last_pts) & PTS_MASK
        if splice or step > MAX_KEYFRAME_GAP:
            # The timeline breaks here: the span so far plus one GOP is the best estimate.
            span = (self._last_pts - start.pts) & PTS_MASK
            self._finish(seq, join.offset, span + self._gop)
            self._begin(seq, join, True)
            return
        self._gop = step
        self._last_pts = join.pts
        span = (join.pts - start.pts) & PTS_MASK
        if span >= self._target:
            self._finish(seq, join.offset, span)
            self._begin(seq, join, False)

    def _begin(self, seq: int, join: JoinPoint, discontinuity: bool) -> None:
        assert join.pts is not None
        self._start = _Start(seq, join.offset, join.prefix, join.pts, discontinuity)
        self._last_pts = join.pts

    def _finish(self, end_seq: int, end_offset: int, ticks: int) -> None:
        start = self._start
        assert start is not None
        if start.discontinuity:
            self._discontinuities += 1
        duration = ticks / TS_CLOCK
        self.segments.append(
            Segment(
                self._next_number,
                start.seq,
                start.offset,
                start.prefix,
                end_seq,
                end_offset,
                duration,
                start.discontinuity,
                self._discontinuities,
            )
        )
        self._next_number += 1
        self.max_duration = max(self.max_duration, duration)

    def get(self, number: int) -> Segment | None:
        if not self.segments:
            return None
        index = number - self.segments[0].number
        return self.segments[index] if 0 <= index < len(self.segments) else None

    def pieces(self, segment: Segment) -> list[Piece] | None:
        """The segment's data as references into the ring; None once it left the ring."""
        ring = self._ring
        if segment.start_seq < ring.first_seq:
            return None
        pieces: list[Piece] = [segment.prefix] if segment.prefix else []
        for seq in range(segment.start_seq, segment.end_seq + 1):
            chunk = ring.get(seq)
            assert chunk is not None, "a held segment's chunks are all in the ring"
            lo = segment.start_offset if seq == segment.start_seq else 0
            hi = segment.end_offset if seq == segment.end_seq else len(chunk)
            if lo == 0 and hi == len(chunk):
                pieces.append(chunk)
            elif lo < hi:
                pieces.append(memoryview(chunk)[lo:hi])
        return pieces

    def playlist(self, segment_url: Callable[[int], str], window: int = WINDOW) -> str:
        """The live media playlist of the newest `window` segments (at least one needed)."""
        listed = list(self.segments)[-window:]
        first = listed[0]
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{max(1, math.ceil(round(self.max_duration, 3)))}",
            f"#EXT-X-MEDIA-SEQUENCE:{first.number}",
        ]
        if first.discontinuity_sequence:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{first.discontinuity_sequence}")
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        for segment in listed:
            if segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXTINF:{segment.duration:.3f},")
            lines.append(segment_url(segment.number))
        return "\n".join(lines) + "\n"
