"""Where a new upstream connection's data may begin for viewers.

A connection (the first, or a reconnect) can start anywhere in the stream, in
the middle of a group of pictures. Its data is held back until its first join
point (see StreamIndex), so viewers always (re)start where a decoder can begin:
PAT, PMT, then a keyframe. When the connection replaces one that already
delivered data (a splice), the restart is preceded by one discontinuity packet
for each stream, so decoders accept the jump in continuity counters and clock
instead of treating what follows as corrupt.
"""

from __future__ import annotations

from acemux.streaming.index import JoinPoint
from acemux.streaming.ts import NULL_PID, PACKET_SIZE, discontinuity_packet, packet_pid

# A stream without join points is passed through rather than held back for ever.
MAX_HELD_BYTES = 8 * 1024 * 1024


class StreamStart:
    __slots__ = ("_waiting", "_splice", "_held", "splices")

    def __init__(self) -> None:
        self._waiting = False
        self._splice = False
        self._held = 0
        self.splices = 0

    def begin(self, splice: bool) -> None:
        """A new upstream connection opened; `splice` when viewers already had data."""
        self._waiting = True
        self._splice = splice
        self._held = 0

    def feed(self, chunk: bytes, joins: list[JoinPoint]) -> tuple[bytes, list[JoinPoint]]:
        """Aligned data from the connection and its join points -> what viewers may get."""
        if not self._waiting:
            return chunk, joins
        if not joins:
            self._held += len(chunk)
            if self._held <= MAX_HELD_BYTES:
                return b"", []
            joins = [JoinPoint(0, b"")]
        self._waiting = False
        first = joins[0]
        data = first.prefix + chunk[first.offset :]
        if self._splice:
            self.splices += 1
            data = discontinuity_markers(data) + data
        # Offsets now count from the new start; the first join is the start itself.
        shift = len(data) - (len(chunk) - first.offset)
        moved = [JoinPoint(shift - len(first.prefix), b"", first.pts)]
        moved += [JoinPoint(j.offset - first.offset + shift, j.prefix, j.pts) for j in joins[1:]]
        return data, moved


def discontinuity_markers(data: bytes) -> bytes:
    """One discontinuity packet per PID in `data`, numbered to lead into its first packet."""
    markers: dict[int, bytes] = {}
    for at in range(0, len(data), PACKET_SIZE):
        pid = packet_pid(data, at)
        if pid in markers or pid == NULL_PID:
            continue
        cc = data[at + 3] & 0x0F
        has_payload = data[at + 3] & 0x10
        # An adaptation-only packet does not advance the counter; the next
        # payload packet of the PID must then carry marker cc + 1.
        markers[pid] = discontinuity_packet(pid, (cc - 1) & 0x0F if has_payload else cc)
    return b"".join(markers.values())
