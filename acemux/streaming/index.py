"""StreamIndex: follows a channel's PAT, PMT and video keyframes to find join points.

A join point is where a viewer can start and get a clean picture at once: a
video keyframe, preceded by copies of the latest PAT and PMT. Audio-only
channels join at a PAT. Until a PAT and PMT have been seen there are none.

Only packets that start something are looked at (PAT and PMT sections, video
PES starts: tens per second), found with bytes.find, so the cost does not grow
with the bitrate. A PAT or PMT that repeats the latest one is not parsed again,
and once the muxer has flagged a keyframe with the random access indicator,
only flagged video PES starts are taken as keyframes (an unflagged keyframe of
such a stream is no join point: joiners start at the next flagged one).
"""

from __future__ import annotations

from dataclasses import dataclass

from acemux.streaming.ts import (
    PACKET_SIZE,
    PAT_PID,
    elementary_pids,
    payload,
    pmt_pid_of,
    unit_starts,
)

H264, HEVC, MPEG2_VIDEO, MPEG1_VIDEO = 0x1B, 0x24, 0x02, 0x01
VIDEO_TYPES = (H264, HEVC, MPEG2_VIDEO, MPEG1_VIDEO)


@dataclass(frozen=True, slots=True)
class JoinPoint:
    offset: int  # of the packet a viewer starts at, in its chunk
    prefix: bytes  # sent first: PAT and PMT copies (empty when starting at a PAT)
    pts: int | None = None  # the keyframe's presentation time, 90 kHz ticks
    splice: bool = False  # the first join point after a reconnect (see splice.py)


class StreamIndex:
    __slots__ = (
        "pat",
        "pmt",
        "pmt_pid",
        "video_pid",
        "video_type",
        "keyframes",
        "flags_keyframes",
    )

    def __init__(self) -> None:
        self.pat: bytes | None = None  # latest PAT packet
        self.pmt: bytes | None = None  # latest PMT packet
        self.pmt_pid: int | None = None
        self.video_pid: int | None = None
        self.video_type = 0
        self.keyframes = 0
        # Has this video stream's muxer flagged a keyframe (random access
        # indicator)? Then the flag is trusted and other video PES starts are
        # not parsed for codec headers: that parse was most of the index's work.
        self.flags_keyframes = False

    def scan(self, chunk: bytes, start: int = 0) -> list[JoinPoint]:
        """Update from an aligned chunk; return its join points in order."""
        layout = (self.pmt_pid, self.video_pid)
        joins: list[JoinPoint] = []
        wanted = [PAT_PID, *(pid for pid in layout if pid is not None)]
        for offset, pid in unit_starts(chunk, wanted, start):
            packet = chunk[offset : offset + PACKET_SIZE]
            if pid == PAT_PID:
                self._on_pat(packet)
                if self.pmt is not None and self.video_pid is None:  # audio only
                    joins.append(JoinPoint(offset, b""))
            elif pid == self.pmt_pid:
                self._on_pmt(packet)
            elif pid == self.video_pid and self._is_keyframe(packet):
                if self.pat and self.pmt:
                    self.keyframes += 1
                    joins.append(JoinPoint(offset, self.pat + self.pmt, pes_pts(packet)))
            if (self.pmt_pid, self.video_pid) != layout:
                # Learnt the PMT or video PID here: look at the rest with them.
                return joins + self.scan(chunk, offset + PACKET_SIZE)
        return joins

    def new_source(self) -> None:
        """A new upstream connection: its muxer may not flag keyframes as the last one did."""
        self.flags_keyframes = False

    def _is_keyframe(self, packet: bytes) -> bool:
        if flags_random_access(packet):
            self.flags_keyframes = True
            return True
        # Once the muxer is known to flag keyframes, an unflagged PES is none.
        return not self.flags_keyframes and is_keyframe(packet, self.video_type)

    def _on_pat(self, packet: bytes) -> None:
        same = _same_table(packet, self.pat)
        self.pat = packet  # the latest copy: joiners get its continuity counter
        if same:
            return
        pmt_pid = pmt_pid_of(packet)
        if pmt_pid != self.pmt_pid:  # a new program layout: learn it again
            self.pmt_pid, self.pmt, self.video_pid = pmt_pid, None, None

    def _on_pmt(self, packet: bytes) -> None:
        same = _same_table(packet, self.pmt)
        self.pmt = packet
        if same:
            return
        videos = [(t, pid) for t, pid in elementary_pids(packet) if t in VIDEO_TYPES]
        layout = videos[0] if videos else (0, None)
        if layout != (self.video_type, self.video_pid):
            self.video_type, self.video_pid = layout
            self.flags_keyframes = False  # a new video stream: learn its muxer again


def _same_table(packet: bytes, latest: bytes | None) -> bool:
    """Is this PAT or PMT packet the latest one again, but for its continuity counter?

    Muxers repeat both every ~100 ms unchanged; parsing each copy again was
    most of what indexing a chunk cost.
    """
    return (
        latest is not None
        and (packet[3] ^ latest[3]) & 0xF0 == 0
        and packet[4:] == latest[4:]
    )


def flags_random_access(packet: bytes) -> bool:
    """Does the muxer flag this packet as a random access point (adaptation field)?"""
    return bool(packet[3] & 0x20 and packet[4] and packet[5] & 0x40)


def is_keyframe(packet: bytes, stream_type: int) -> bool:
    """Does this video PES start a keyframe? The muxer's random access flag, else the codec's."""
    if flags_random_access(packet):
        return True
    data = payload(packet)
    if len(data) < 9 or data[:3] != b"\x00\x00\x01":
        return False
    es = data[9 + data[8] :]  # skip the PES header
    pos = es.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(es):
        if _starts_random_access(es[pos + 3], stream_type):
            return True
        pos = es.find(b"\x00\x00\x01", pos + 3)
    return False


def pes_pts(packet: bytes) -> int | None:
    """The PTS of the PES that starts in this packet, if it carries one."""
    data = payload(packet)
    if len(data) < 14 or data[:3] != b"\x00\x00\x01" or not data[7] & 0x80:
        return None
    b = data[9:14]
    return ((b[0] >> 1) & 0x07) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def _starts_random_access(header: int, stream_type: int) -> bool:
    if stream_type == H264:
        return header & 0x1F in (5, 7)  # IDR slice, or the SPS that leads one
    if stream_type == HEVC:
        nal_type = (header >> 1) & 0x3F
        return 16 <= nal_type <= 21 or 32 <= nal_type <= 34  # IRAP, or VPS/SPS/PPS
    return header == 0xB3  # MPEG-1/2 sequence header
