"""Small builders and checkers for MPEG-TS packets used across tests."""

from __future__ import annotations

from acemux.streaming.ts import PACKET_SIZE, SYNC_BYTE


def packet(pid: int, pusi: bool = False, cc: int = 0, fill: int = 0) -> bytes:
    header = bytes(
        [SYNC_BYTE, (0x40 if pusi else 0) | (pid >> 8) & 0x1F, pid & 0xFF, 0x10 | (cc & 0x0F)]
    )
    return header + bytes([fill]) * (PACKET_SIZE - 4)


def pat() -> bytes:
    return packet(0, pusi=True)


def pids(data: bytes) -> list[int]:
    """The PID of each packet in aligned data."""
    return [
        ((data[i + 1] & 0x1F) << 8) | data[i + 2] for i in range(0, len(data), PACKET_SIZE)
    ]


def assert_whole_packets(data: bytes) -> None:
    assert len(data) % PACKET_SIZE == 0, f"{len(data)} bytes is not whole packets"
    bad = [i for i in range(0, len(data), PACKET_SIZE) if data[i] != SYNC_BYTE]
    assert not bad, f"sync byte missing at offsets {bad[:5]}"
