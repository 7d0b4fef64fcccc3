"""MPEG-TS facts the proxy needs: packet alignment, null packets and join points.

Work is done on whole chunks with C-speed bytes methods (find, slicing) rather
than a Python loop per packet: the reader runs this on every chunk it reads.
"""

from __future__ import annotations

PACKET_SIZE = 188
SYNC_BYTE = 0x47
NULL_PID = 0x1FFF
PAT_PID = 0x0000

# A null packet: PID 0x1FFF, payload only, CC 0, stuffed with 0xFF. Decoders drop
# it; players and IPTV servers see bytes flowing and keep the connection.
NULL_PACKET = bytes([SYNC_BYTE, 0x1F, 0xFF, 0x10]) + b"\xff" * (PACKET_SIZE - 4)


def null_packets(count: int) -> bytes:
    return NULL_PACKET * count


def packet_pid(packet: bytes | memoryview, offset: int = 0) -> int:
    return ((packet[offset + 1] & 0x1F) << 8) | packet[offset + 2]


def is_aligned(data: bytes) -> bool:
    """True when `data` is whole packets, each starting with the sync byte."""
    if len(data) % PACKET_SIZE:
        return False
    return data[::PACKET_SIZE].count(SYNC_BYTE) == len(data) // PACKET_SIZE


def find_section_starts(chunk: bytes, pid: int, start: int = 0) -> list[int]:
    """Offsets of the packets of `pid` with the payload-unit-start flag, in aligned data."""
    return [at for at, _ in unit_starts(chunk, [pid], start)]


def unit_starts(chunk: bytes, pids: list[int], start: int = 0) -> list[tuple[int, int]]:
    """(offset, pid) of every payload-unit start of `pids` in aligned data, in order.

    Looks at packet headers only: bytes 1 and 2 of every packet, taken with a
    strided slice (C speed, one byte per packet), so payload bytes that happen
    to look like a header cost nothing. One slice serves every PID, and PIDs
    that share the high byte are found in one search.
    """
    base = -(-start // PACKET_SIZE) * PACKET_SIZE
    flags = chunk[base + 1 :: PACKET_SIZE]
    low = chunk[base + 2 :: PACKET_SIZE]
    wanted: dict[int, set[int]] = {}
    for pid in pids:
        wanted.setdefault(0x40 | (pid >> 8) & 0x1F, set()).add(pid & 0xFF)
    found: list[tuple[int, int]] = []
    for high, lows in wanted.items():
        needle = bytes((high,))
        i = flags.find(needle)
        while i != -1:
            at = base + i * PACKET_SIZE
            if i < len(low) and low[i] in lows and chunk[at] == SYNC_BYTE:
                found.append((at, (high & 0x1F) << 8 | low[i]))
            i = flags.find(needle, i + 1)
    if len(wanted) > 1:
        found.sort()
    return found


def payload(packet: bytes) -> bytes:
    """The payload of one packet (after any adaptation field)."""
    afc = (packet[3] >> 4) & 0x3
    start = 4 + (1 + packet[4] if afc & 0x2 else 0)
    return packet[start:] if afc & 0x1 else b""


def _section(packet: bytes) -> bytes:
    """The PSI section starting in a packet with the payload-unit-start flag."""
    data = payload(packet)
    if not data:
        return b""
    section = data[1 + data[0] :]  # skip the pointer field
    if len(section) < 3:
        return b""
    length = ((section[1] & 0x0F) << 8) | section[2]
    return section[: 3 + length]


def pmt_pid_of(pat_packet: bytes) -> int | None:
    """The PMT PID of the first program in a single-packet PAT."""
    section = _section(pat_packet)
    # header 8 bytes, then 4 bytes a program, then CRC 4 bytes
    for at in range(8, len(section) - 4 - 3, 4):
        program = (section[at] << 8) | section[at + 1]
        if program != 0:
            return ((section[at + 2] & 0x1F) << 8) | section[at + 3]
    return None


def elementary_pids(pmt_packet: bytes) -> list[tuple[int, int]]:
    """(stream_type, pid) of each stream in a single-packet PMT."""
    section = _section(pmt_packet)
    if len(section) < 12:
        return []
    info_length = ((section[10] & 0x0F) << 8) | section[11]
    streams = []
    at = 12 + info_length
    end = len(section) - 4  # CRC
    while at + 5 <= end:
        stream_type = section[at]
        pid = ((section[at + 1] & 0x1F) << 8) | section[at + 2]
        es_info_length = ((section[at + 3] & 0x0F) << 8) | section[at + 4]
        streams.append((stream_type, pid))
        at += 5 + es_info_length
    return streams


def discontinuity_packet(pid: int, cc: int) -> bytes:
    """An adaptation-field-only packet that flags a discontinuity on `pid`.

    Decoders then accept a jump in continuity counters and (on the PCR PID) a
    new time base, instead of treating what follows as corrupt.
    """
    header = bytes([SYNC_BYTE, (pid >> 8) & 0x1F, pid & 0xFF, 0x20 | (cc & 0x0F)])
    return header + bytes([PACKET_SIZE - 5, 0x80]) + b"\xff" * (PACKET_SIZE - 6)


class PacketAligner:
    """Turns an arbitrary byte stream into whole, sync-checked 188-byte packets.

    Keeps the partial packet at the end of each read for the next one. When the
    sync byte is not where it should be (garbage, or a connection that started
    mid-packet) it skips to the next offset where two consecutive sync bytes
    line up, so clients only ever receive whole packets.
    """

    __slots__ = ("_tail", "dropped_bytes")

    def __init__(self) -> None:
        self._tail = b""
        self.dropped_bytes = 0

    def reset(self) -> None:
        """Forget the partial packet (a new upstream connection starts afresh)."""
        self.dropped_bytes += len(self._tail)
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        """Return the whole packets that `data` completes (possibly b"")."""
        buf = self._tail + data if self._tail else data
        if len(buf) < PACKET_SIZE:
            self._tail = buf
            return b""
        end = len(buf) - len(buf) % PACKET_SIZE
        if buf[0:end:PACKET_SIZE].count(SYNC_BYTE) == end // PACKET_SIZE:
            self._tail = buf[end:]
            return buf if end == len(buf) else buf[:end]
        return self._resync(buf)

    def _resync(self, buf: bytes) -> bytes:
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while n - pos >= PACKET_SIZE:
            if buf[pos] == SYNC_BYTE and (
                pos + PACKET_SIZE >= n or buf[pos + PACKET_SIZE] == SYNC_BYTE
            ):
                out.append(buf[pos : pos + PACKET_SIZE])
                pos += PACKET_SIZE
                continue
            nxt = buf.find(SYNC_BYTE, pos + 1)
            if nxt == -1:
                nxt = n
            self.dropped_bytes += nxt - pos
            pos = nxt
        self._tail = buf[pos:]
        return b"".join(out)
