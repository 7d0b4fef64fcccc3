"""A small, independent MPEG-TS reader for checking what the fake engine sends.

Deliberately written apart from acemux.fake_engine.tsloop (a loop cannot check
itself): one Packet per 188 bytes with the fields the checks need.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

WRAP = 1 << 33


@dataclass
class Packet:
    pid: int
    cc: int
    has_payload: bool
    pusi: bool
    pcr: int | None = None  # 90 kHz base only
    pts: int | None = None
    dts: int | None = None
    discontinuity: bool = False  # the adaptation field's discontinuity indicator


def _timestamp(b: bytes) -> int:
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def parse_packets(data: bytes) -> list[Packet]:
    assert len(data) % 188 == 0, "not whole packets"
    out = []
    for pos in range(0, len(data), 188):
        p = data[pos : pos + 188]
        assert p[0] == 0x47, f"lost sync at byte {pos}"
        pkt = Packet(
            pid=(p[1] & 0x1F) << 8 | p[2],
            cc=p[3] & 0x0F,
            has_payload=bool(p[3] & 0x10),
            pusi=bool(p[1] & 0x40),
        )
        start = 4
        if p[3] & 0x20:
            pkt.discontinuity = bool(p[4] and p[5] & 0x80)
            if p[4] and p[5] & 0x10:
                pkt.pcr = int.from_bytes(p[6:10], "big") << 1 | p[10] >> 7
            start = 5 + p[4]
        if (
            pkt.has_payload
            and pkt.pusi
            and p[start : start + 3] == b"\x00\x00\x01"
            and p[start + 3] in (0xE0, 0xC0)
        ):
            flags = p[start + 7] >> 6
            if flags & 2:
                pkt.pts = _timestamp(p[start + 9 : start + 14])
            if flags == 3:
                pkt.dts = _timestamp(p[start + 14 : start + 19])
        out.append(pkt)
    return out


def continuity_errors(packets: list[Packet]) -> list[str]:
    """Every place a PID's continuity counter does not follow on."""
    last: dict[int, int] = {}
    errors = []
    for i, pkt in enumerate(packets):
        if pkt.pid == 0x1FFF:
            continue
        if pkt.pid in last:
            want = (last[pkt.pid] + pkt.has_payload) % 16
            if pkt.cc != want:
                errors.append(f"packet {i} pid {pkt.pid}: cc {pkt.cc}, expected {want}")
        last[pkt.pid] = pkt.cc
    return errors


def unflagged_continuity_errors(packets: list[Packet]) -> list[str]:
    """Continuity breaks not announced by a discontinuity indicator on that PID."""
    last: dict[int, int] = {}
    errors = []
    for i, pkt in enumerate(packets):
        if pkt.pid == 0x1FFF:
            continue
        want = (last.get(pkt.pid, pkt.cc - pkt.has_payload) + pkt.has_payload) % 16
        if pkt.cc != want and not pkt.discontinuity:
            errors.append(f"packet {i} pid {pkt.pid}: cc {pkt.cc}, expected {want}")
        last[pkt.pid] = pkt.cc
    return errors


def decode_order_stamps(packets: list[Packet]) -> dict[int, list[int]]:
    """Per PID, each PES's DTS (or PTS when it has no DTS), in stream order."""
    stamps: dict[int, list[int]] = {}
    for pkt in packets:
        stamp = pkt.dts if pkt.dts is not None else pkt.pts
        if stamp is not None:
            stamps.setdefault(pkt.pid, []).append(stamp)
    return stamps


def pcrs(packets: list[Packet]) -> list[int]:
    return [p.pcr for p in packets if p.pcr is not None]


def steps(values: list[int]) -> list[int]:
    """Differences between neighbours, modulo the 33-bit wrap."""
    return [(b - a) % WRAP for a, b in pairwise(values)]
