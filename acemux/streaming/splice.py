"""Where a new upstream connection's data may begin for viewers.

A connection (the first, or a reconnect) can start anywhere in the stream, in
the middle of a group of pictures. Its video is held back until its first join
point (see StreamIndex), so the picture always (re)starts where a decoder can
begin: PAT, PMT, then a keyframe; audio and tables pass from their own next
unit start meanwhile. When the connection replaces one that already
delivered data (a splice), the restart is preceded by one discontinuity packet
for each stream, so decoders accept the jump in continuity counters and clock
instead of treating what follows as corrupt. Each marker sits right before its
PID's first packet, so PAT and PMT still come before anything of the video
(an engine that restarts the content sends PAT, PMT and a keyframe at once).
A PID whose first packet comes only after the keyframe (a table sent every
half second, say) still gets its marker: the first MARK_WINDOW_BYTES after
the keyframe are watched for PIDs not marked yet.
"""

from __future__ import annotations

from bisect import bisect_left

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
# After a splice's keyframe, PIDs seen for the first time are marked for this long.
MARK_WINDOW_BYTES = 2 * 1024 * 1024


class StreamStart:
    __slots__ = (
        "_waiting",
        "_splice",
        "_held",
        "_started",
        "_marked",
        "_watch",
        "splices",
        "settled",
    )

    def __init__(self) -> None:
        # Past the connection's start: `feed` would pass chunks and joins as they
        # are, so the reader need not call it (nor index each chunk at once).
        self.settled = True
        self._waiting = False
        self._splice = False
        self._held = 0
        self._started: set[int] = set()  # PIDs let through ahead of the keyframe
        self._marked: set[int] = set()  # PIDs that got their discontinuity packet
        self._watch = 0  # bytes after the keyframe still watched for unmarked PIDs
        self.splices = 0

    def begin(self, splice: bool) -> None:
        """A new upstream connection opened; `splice` when viewers already had data."""
        self._waiting = True
        self.settled = False
        self._splice = splice
        self._held = 0
        self._started = set()
        self._marked = set()
        self._watch = 0
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
            if self._watch > 0:  # only just after a splice
                marked = self._mark_late(chunk, joins)
                self.settled = self._watch <= 0
                return marked
            return chunk, joins
        if not joins:
            early = self._ahead_of_keyframe(chunk, index)
            self._held += len(chunk) - len(early)
            if self._held <= MAX_HELD_BYTES:
                return self._mark(early)[0], []
            joins = [JoinPoint(0, b"")]  # no keyframe in sight: let everything through
        self._waiting = False
        self._watch = MARK_WINDOW_BYTES if self._splice else 0
        self.settled = not self._watch
        first = joins[0]
        early = self._ahead_of_keyframe(chunk[: first.offset], index)
        # PAT and PMT copies lead the keyframe unless the real ones already went ahead.
        prefix = b"" if {PAT_PID, index.pmt_pid} <= self._started else first.prefix
        body = early + prefix + chunk[first.offset :]
        data, inserted = self._mark(body)
        # Offsets now count from the new start; the keyframe is the first join
        # (a joiner there still gets PAT and PMT copies first). A join lands
        # on the marker of its packet, if that packet got one.
        keyframe = len(early) + len(prefix)
        shift = len(early) - first.offset + len(prefix)

        def moved(offset: int) -> int:
            return offset + PACKET_SIZE * bisect_left(inserted, offset)

        if prefix:
            out = [JoinPoint(moved(len(early)), b"", first.pts, self._splice)]
        else:
            out = [JoinPoint(moved(keyframe), first.prefix, first.pts, self._splice)]
        out += [JoinPoint(moved(j.offset + shift), j.prefix, j.pts) for j in joins[1:]]
        return data, out

    def _mark_late(self, chunk: bytes, joins: list[JoinPoint]) -> tuple[bytes, list[JoinPoint]]:
        """Just after a splice: markers for PIDs whose first packet comes after the keyframe."""
        self._watch -= len(chunk)
        # Which PIDs the chunk carries, from two strided slices (header bytes only).
        headers = set(zip(chunk[1::PACKET_SIZE], chunk[2::PACKET_SIZE]))
        pids = {(high & 0x1F) << 8 | low for high, low in headers}
        if pids <= self._marked | {NULL_PID}:
            return chunk, joins
        data, inserted = self._mark(chunk)
        moved = [
            JoinPoint(j.offset + PACKET_SIZE * bisect_left(inserted, j.offset), j.prefix, j.pts)
            for j in joins
        ]
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

    def _mark(self, data: bytes) -> tuple[bytes, list[int]]:
        """After a splice, a discontinuity packet right before each PID's first packet.

        Returns the data and the offsets (in the input, ascending) where markers went.
        """
        if not self._splice or not data:
            return data, []
        firsts = first_packets(data, skip=self._marked)
        if not firsts:
            return data, []
        self._marked.update(firsts)
        parts, inserted, done = [], sorted(firsts.values()), 0
        for at in inserted:
            parts += (data[done:at], marker_for(data, at))
            done = at
        parts.append(data[done:])
        return b"".join(parts), inserted


def first_packets(data: bytes, skip: set[int] = frozenset()) -> dict[int, int]:
    """The offset of each PID's first packet in aligned `data` (but `skip` and null packets)."""
    firsts: dict[int, int] = {}
    for at in range(0, len(data), PACKET_SIZE):
        pid = packet_pid(data, at)
        if pid not in firsts and pid not in skip and pid != NULL_PID:
            firsts[pid] = at
    return firsts


def marker_for(data: bytes, at: int) -> bytes:
    """The discontinuity packet that leads into the packet at `at`."""
    cc = data[at + 3] & 0x0F
    # An adaptation-only packet does not advance the counter; the next
    # payload packet of the PID must then carry marker cc + 1.
    cc = (cc - 1) & 0x0F if data[at + 3] & 0x10 else cc
    return discontinuity_packet(packet_pid(data, at), cc)


def discontinuity_markers(data: bytes, skip: set[int] = frozenset()) -> dict[int, bytes]:
    """A discontinuity packet per PID in `data` (but `skip`), leading into its first packet."""
    return {pid: marker_for(data, at) for pid, at in first_packets(data, skip).items()}
