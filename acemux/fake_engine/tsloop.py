"""An endless, seamless MPEG-TS stream made by looping one short sample.

Pass number k over the sample ("loop k") is the sample with k * duration added
to every PCR, PTS and DTS and every PID's continuity counter advanced so it
runs on across the seam: a demuxer sees one continuous stream. The sample is
parsed once; making a loop costs one copy plus patching a few thousand bytes at
precomputed offsets (a strided slice assignment for the counters).
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path
from struct import pack_into

from acemux.streaming.ts import NULL_PID, PACKET_SIZE, is_aligned, packet_pid

log = logging.getLogger(__name__)

SAMPLE_PATH = Path(__file__).with_name("data") / "sample.ts"
# The same picture with AC-3 audio: what browsers cannot play without a profile.
AC3_SAMPLE_PATH = SAMPLE_PATH.with_name("sample-ac3.ts")
TS_CLOCK = 90_000
_WRAP_MASK = (1 << 33) - 1  # PCR base, PTS and DTS are 33-bit counters

# Unpaced chunks: 350 packets = 65800 bytes, about what a proxy reads at once.
CHUNK_PACKETS = 7 * 50
# Paced chunks: one per 40 ms of wall time keeps a viewer's latency low.
PACED_CHUNK_SECONDS = 0.04
_CACHED_LOOPS = 4  # connections in lockstep share a patched loop

# PES stream ids without the optional header (so without PTS/DTS): ISO 13818-1 2.4.3.7.
_NO_PES_HEADER = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})


@dataclass
class _PidCounters:
    first_cc: int
    first_has_payload: bool
    last_cc: int = 0


@dataclass
class _Parsed:
    # (byte offset, 33-bit base, low 7 bits of the field's 5th byte) per PCR
    pcr_fields: list[tuple[int, int, int]] = field(default_factory=list)
    # (packet index, seconds) per PCR
    pcr_times: list[tuple[int, float]] = field(default_factory=list)
    # (byte offset, value, 4-bit prefix) per PTS or DTS field
    stamp_fields: list[tuple[int, int, int]] = field(default_factory=list)
    # per PID, each PES's DTS (its PTS when it has none)
    stamps_by_pid: dict[int, list[int]] = field(default_factory=dict)
    counters: dict[int, _PidCounters] = field(default_factory=dict)
    pcr_pid: int | None = None


def _parse(data: bytes) -> _Parsed:
    """One pass over the sample: where every timestamp and counter lives."""
    out = _Parsed()
    for index, pos in enumerate(range(0, len(data), PACKET_SIZE)):
        pid = packet_pid(data, pos)
        if pid == NULL_PID:
            continue
        flags = data[pos + 3]
        has_payload = bool(flags & 0x10)
        counters = out.counters.get(pid)
        if counters is None:
            counters = out.counters[pid] = _PidCounters(flags & 0x0F, has_payload)
        counters.last_cc = flags & 0x0F
        payload = pos + 4
        if flags & 0x20:  # adaptation field
            payload = pos + 5 + data[pos + 4]
            if data[pos + 4] and data[pos + 5] & 0x10:  # PCR flag
                pcr = data[pos + 6 : pos + 12]
                base = int.from_bytes(pcr[:4], "big") << 1 | pcr[4] >> 7
                ext = (pcr[4] & 1) << 8 | pcr[5]
                out.pcr_fields.append((pos + 6, base, pcr[4] & 0x7F))
                out.pcr_times.append((index, base / TS_CLOCK + ext / 27e6))
                out.pcr_pid = pid
        pusi = data[pos + 1] & 0x40
        if has_payload and pusi and data[payload : payload + 3] == b"\x00\x00\x01":
            _parse_pes_header(data, payload, pid, out)
    return out


def _parse_pes_header(data: bytes, at: int, pid: int, out: _Parsed) -> None:
    if data[at + 3] in _NO_PES_HEADER:
        return
    pts_dts = data[at + 7] >> 6
    stamp = None
    for present, offset in ((pts_dts & 2, at + 9), (pts_dts == 3, at + 14)):
        if present:
            b = data[offset : offset + 5]
            stamp = (b[0] >> 1 & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
            out.stamp_fields.append((offset, stamp, b[0] & 0xF0))
    if stamp is not None:
        out.stamps_by_pid.setdefault(pid, []).append(stamp)


def _loop_ticks(parsed: _Parsed) -> int:
    """Loop length in 90 kHz ticks: the PCR stream's span plus one frame."""
    stamps = sorted(parsed.stamps_by_pid.get(parsed.pcr_pid, ()))
    steps = [b - a for a, b in pairwise(stamps) if b > a]
    if not steps:
        raise ValueError("sample has no PCR stream with timestamps to loop on")
    ticks = stamps[-1] - stamps[0] + min(steps)
    for pid, values in parsed.stamps_by_pid.items():
        if max(values) - min(values) >= ticks:
            raise ValueError(f"PID {pid} spans more than the loop: it would overlap itself")
    return ticks


def _packet_times(count: int, pcr_times: list[tuple[int, float]], loop_s: float) -> list[float]:
    """Seconds from the loop's start for every packet, interpolated between PCRs.

    Packets before the first or after the last PCR lie between the previous
    loop's last PCR and the next loop's first one.
    """
    anchors = [(pcr_times[-1][0] - count, pcr_times[-1][1] - loop_s), *pcr_times]
    anchors.append((pcr_times[0][0] + count, pcr_times[0][1] + loop_s))
    times = [0.0] * count
    for (i0, t0), (i1, t1) in pairwise(anchors):
        for i in range(max(i0, 0), min(i1, count)):
            times[i] = t0 + (t1 - t0) * (i - i0) / (i1 - i0)
    origin = times[0]
    return [t - origin for t in times]


class TsLoop:
    """A TS sample ready to be played back-to-back forever."""

    def __init__(self, data: bytes) -> None:
        if not data or not is_aligned(data):
            raise ValueError("sample is not whole, synced 188-byte packets")
        parsed = _parse(data)
        if not parsed.pcr_times:
            raise ValueError("sample carries no PCR")
        self.data = data
        self.packet_count = len(data) // PACKET_SIZE
        self.duration_ticks = _loop_ticks(parsed)
        self.duration_seconds = self.duration_ticks / TS_CLOCK
        self.packet_times = _packet_times(
            self.packet_count, parsed.pcr_times, self.duration_seconds
        )
        self._pcr_fields = parsed.pcr_fields
        self._stamp_fields = parsed.stamp_fields
        self._cc_columns = self._counter_columns(parsed.counters)
        self._cache: dict[int, bytes] = {}
        log.debug(
            "sample: %d packets, %.3f s, %d PCR and %d PTS/DTS fields",
            self.packet_count,
            self.duration_seconds,
            len(self._pcr_fields),
            len(self._stamp_fields),
        )

    def _counter_columns(self, counters: dict[int, _PidCounters]) -> list[bytes]:
        """Byte 3 of every packet for loops k = 0..15 (the counters are 4 bits).

        A PID's counter moves on by `step` per loop: its first packet in loop k+1
        must follow its last packet in loop k (payload packets count up by one,
        adaptation-only packets repeat the counter).
        """
        steps = {
            pid: ((c.last_cc + c.first_has_payload) - c.first_cc) % 16
            for pid, c in counters.items()
        }
        column = self.data[3::PACKET_SIZE]
        pids = [packet_pid(self.data, pos) for pos in range(0, len(self.data), PACKET_SIZE)]
        columns = []
        for k in range(16):
            shifts = [steps.get(pid, 0) * k for pid in pids]
            moved = ((b & 0xF0) | ((b + s) & 0x0F) for b, s in zip(column, shifts, strict=True))
            columns.append(bytes(moved))
        return columns

    def loop_bytes(self, k: int) -> bytes:
        """The sample as pass number `k` of the endless stream."""
        cached = self._cache.get(k)
        if cached is not None:
            return cached
        buf = bytearray(self.data)
        buf[3::PACKET_SIZE] = self._cc_columns[k % 16]
        shift = k * self.duration_ticks
        if shift:
            for offset, base, low in self._pcr_fields:
                b = (base + shift) & _WRAP_MASK
                pack_into(">IB", buf, offset, b >> 1, (b & 1) << 7 | low)
            for offset, value, prefix in self._stamp_fields:
                t = (value + shift) & _WRAP_MASK
                pack_into(
                    ">BHH", buf, offset,
                    prefix | (t >> 29 & 0x0E) | 1, (t >> 14 & 0xFFFE) | 1, (t << 1 & 0xFFFE) | 1,
                )  # fmt: skip
        result = bytes(buf)
        if len(self._cache) >= _CACHED_LOOPS:
            del self._cache[next(iter(self._cache))]
        self._cache[k] = result
        return result

    def position(self, seconds: float) -> tuple[int, int]:
        """(loop, packet) of the packet playing `seconds` after loop 0 began."""
        loop, within = divmod(max(seconds, 0.0), self.duration_seconds)
        packet = bisect_left(self.packet_times, within)
        if packet == self.packet_count:
            return int(loop) + 1, 0
        return int(loop), packet

    def chunks(
        self,
        loop: int = 0,
        packet: int = 0,
        *,
        packets: int = CHUNK_PACKETS,
        seconds: float | None = None,
    ) -> Iterator[tuple[float, bytes]]:
        """Endless (media time, chunk) pairs from `packet` of `loop` on.

        Chunks are whole packets: `packets` long, or `seconds` of media when
        given. A chunk never spans two loops. Media time counts from loop 0.
        """
        times = self.packet_times
        count = self.packet_count
        while True:
            buf = self.loop_bytes(loop)
            start = loop * self.duration_seconds
            while packet < count:
                if seconds is None:
                    end = min(packet + packets, count)
                else:
                    end = bisect_left(times, times[packet] + seconds, packet + 1)
                yield start + times[packet], buf[packet * PACKET_SIZE : end * PACKET_SIZE]
                packet = end
            loop += 1
            packet = 0

    async def stream(
        self,
        *,
        rate: float | None = 1.0,
        loop: int = 0,
        packet: int = 0,
        packets: int = CHUNK_PACKETS,
    ) -> AsyncIterator[bytes]:
        """Endless chunks, paced by PCR at `rate` x real time (0/None: unpaced)."""
        if not rate:
            for _, chunk in self.chunks(loop, packet, packets=packets):
                yield chunk
                await asyncio.sleep(0)  # a fast reader must not starve the event loop
            return
        clock = asyncio.get_running_loop()
        started = clock.time()
        origin: float | None = None
        for media_time, chunk in self.chunks(loop, packet, seconds=PACED_CHUNK_SECONDS * rate):
            if origin is None:
                origin = media_time
            delay = started + (media_time - origin) / rate - clock.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield chunk


@cache
def default_loop() -> TsLoop:
    """The bundled sample, parsed once per process."""
    return TsLoop(SAMPLE_PATH.read_bytes())


@cache
def ac3_loop() -> TsLoop:
    """The bundled H.264 + AC-3 sample, parsed once per process."""
    return TsLoop(AC3_SAMPLE_PATH.read_bytes())
