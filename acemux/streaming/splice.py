"""Where a new upstream connection's data may begin for viewers.

A connection (the first, or a reconnect) can start anywhere in the stream, in
the middle of a group of pictures. Its video is held back until its first join
point (see StreamIndex), so the picture always (re)starts where a decoder can
begin: PAT, PMT, then a keyframe; audio and tables pass from their own next
unit start meanwhile. When the connection replaces one that already
delivered data (a splice), the restart is preceded by one discontinuity packet
for each stream, so decoders accept the jump in continuity counters and clock
instead of treating what follows as corrupt.
"""

from __future__ import annotations

from acemux.streaming.index import JoinPoint, StreamIndex
from acemux.streaming.ts import (
    NULL_PID,
    PACKET_SIZE,
    PAT_PID,
    discontinuity_packet,
    packet_pid,
)

# A stream without join points is passed through rather than held back for ever.
MAX_HELD_BYTES = 8 * 1024 * 1024


class StreamStart:
    __slots__ = ("_waiting", "_splice", "_held", "_started", "_marked", "splices")

    def __init__(self) -> None:
        self._waiting = False
        self._splice = False
        self._held = 0
        self._started: set[int] = set()  # PIDs let through ahead of the keyframe
        self._marked: set[int] = set()  # PIDs that got their discontinuity packet
        self.splices = 0

    def begin(self, splice: bool) -> None:
        """A new upstream connection opened; `splice` when viewers already had data."""
        self._waiting = True
        self._splice = splice
        self._held = 0
        self._started = set()
        self._marked = set()
        if splice:
            self.splices += 1

    def feed(
        self, chunk: bytes, joins: list[JoinPoint], index: StreamIndex
    ) -> tuple[bytes, list[JoinPoint]]:
        """Aligned data from the connection and its join points -> what viewers may get.

        While waiting for the first keyframe, the other streams (audio, tables)
        pass from their own next PES or section start, so sound resumes at once;
        only the video waits for its keyframe.
        """
        if not self._waiting:
            return chunk, joins
        if not joins:
            early = self._ahead_of_keyframe(chunk, index)
            self._held += len(chunk) - len(early)
            if self._held <= MAX_HELD_BYTES:
                return self._mark(early), []
            joins = [JoinPoint(0, b"")]  # no keyframe in sight: let everything through
        self._waiting = False
        first = joins[0]
        early = self._ahead_of_keyframe(chunk[: first.offset], index)
        # PAT and PMT copies lead the keyframe unless the real ones already went ahead.
        prefix = b"" if {PAT_PID, index.pmt_pid} <= self._started else first.prefix
        body = early + prefix + chunk[first.offset :]
        data = self._mark(body)
        # Offsets now count from the new start; the keyframe is the first join
        # (a joiner there still gets PAT and PMT copies first).
        shift = len(data) - (len(chunk) - first.offset)
        if prefix:
            moved = [JoinPoint(shift - len(prefix), b"", first.pts, self._splice)]
        else:
            moved = [JoinPoint(shift, first.prefix, first.pts, self._splice)]
        moved += [JoinPoint(j.offset - first.offset + shift, j.prefix, j.pts) for j in joins[1:]]
        return data, moved

    def _ahead_of_keyframe(self, data: bytes, index: StreamIndex) -> bytes:
        """The packets of every stream but the video, each from its first unit start."""
        if index.pmt is None:
            return b""  # which PID is video is not known yet: hold everything
        video, started = index.video_pid, self._started
        out = []
        for at in range(0, len(data), PACKET_SIZE):
            pid = packet_pid(data, at)
            if pid == video or pid == NULL_PID:
                continue
            if pid not in started:
                if not data[at + 1] & 0x40:  # mid-unit: wait for the next start
                    continue
                started.add(pid)
            out.append(data[at : at + PACKET_SIZE])
        return b"".join(out)

    def _mark(self, data: bytes) -> bytes:
        """After a splice, a discontinuity packet ahead of each PID's first packet."""
        if not self._splice or not data:
            return data
        markers = discontinuity_markers(data, skip=self._marked)
        self._marked.update(markers)
        return b"".join(markers.values()) + data


def discontinuity_markers(data: bytes, skip: set[int] = frozenset()) -> dict[int, bytes]:
    """A discontinuity packet per PID in `data` (but `skip`), leading into its first packet."""
    markers: dict[int, bytes] = {}
    for at in range(0, len(data), PACKET_SIZE):
        pid = packet_pid(data, at)
        if pid in markers or pid in skip or pid == NULL_PID:
            continue
        cc = data[at + 3] & 0x0F
        has_payload = data[at + 3] & 0x10
        # An adaptation-only packet does not advance the counter; the next
        # payload packet of the PID must then carry marker cc + 1.
        markers[pid] = discontinuity_packet(pid, (cc - 1) & 0x0F if has_payload else cc)
    return markers
