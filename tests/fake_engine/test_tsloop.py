"""The looped sample: seamless timestamps and counters, positions, pacing."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from itertools import islice

import pytest

from acemux.fake_engine.tsloop import CHUNK_PACKETS, SAMPLE_PATH, TsLoop, default_loop
from acemux.streaming.ts import PACKET_SIZE, PAT_PID

from .tsparse import (
    WRAP,
    continuity_errors,
    decode_order_stamps,
    parse_packets,
    pcrs,
    steps,
)

VIDEO_FRAME = 3600  # 25 fps in 90 kHz ticks
AUDIO_FRAME = 1920  # 1024 samples at 48 kHz


@pytest.fixture(scope="module")
def ts() -> TsLoop:
    return default_loop()


def loops(ts: TsLoop, first: int, count: int) -> bytes:
    return b"".join(ts.loop_bytes(k) for k in range(first, first + count))


def test_sample_is_small_playable_and_loops_every_8_seconds(ts: TsLoop) -> None:
    assert SAMPLE_PATH.stat().st_size <= 1_100_000
    assert ts.duration_ticks == 8 * 90_000
    assert ts.packet_times[0] == 0 and ts.packet_times[-1] < ts.duration_seconds
    sdt, pat, pmt, video = parse_packets(ts.data[: 4 * PACKET_SIZE])
    assert (sdt.pid, pat.pid, pmt.pid) == (0x11, PAT_PID, 0x1000)
    assert video.pusi and ts.data[3 * PACKET_SIZE + 5] & 0x40  # random access: a keyframe


@pytest.mark.parametrize("first_loop", [0, 7])
def test_loop_seams_keep_counters_and_timestamps_running(ts: TsLoop, first_loop: int) -> None:
    packets = parse_packets(loops(ts, first_loop, 3))
    assert continuity_errors(packets) == []
    assert all(0 < step < 90_000 for step in steps(pcrs(packets)))
    for pid, stamps in decode_order_stamps(packets).items():
        gaps = steps(stamps)
        assert all(0 < gap < 90_000 for gap in gaps), pid
        unit = VIDEO_FRAME if len(stamps) > 500 else AUDIO_FRAME
        assert all(gap % unit == 0 for gap in gaps), pid  # no gap or overlap at the seam


def test_video_steps_one_frame_across_the_seam(ts: TsLoop) -> None:
    video = max(decode_order_stamps(parse_packets(loops(ts, 0, 2))).values(), key=len)
    assert set(steps(video)) == {VIDEO_FRAME}


def test_timestamps_wrap_at_33_bits(ts: TsLoop) -> None:
    k = WRAP // ts.duration_ticks  # the loop during which the clock wraps
    packets = parse_packets(loops(ts, k, 2))
    base = parse_packets(ts.data)
    shift = k * ts.duration_ticks
    for got, orig in zip(packets, base, strict=False):  # base is one loop, packets two
        if orig.pts is not None:
            assert got.pts == (orig.pts + shift) % WRAP
    assert min(pcrs(packets)) < 90_000 * 10 < max(pcrs(packets))  # wrapped inside these loops
    assert all(0 < step < 90_000 for step in steps(pcrs(packets)))
    assert continuity_errors(packets) == []


def test_chunks_are_aligned_and_continue_across_loops(ts: TsLoop) -> None:
    chunks = list(islice(ts.chunks(), 40))
    data = b"".join(chunk for _, chunk in chunks)
    assert all(len(chunk) % PACKET_SIZE == 0 and chunk[0] == 0x47 for _, chunk in chunks)
    assert max(len(chunk) for _, chunk in chunks) == CHUNK_PACKETS * PACKET_SIZE
    assert data[: len(ts.data)] == ts.data
    assert data[len(ts.data) : 2 * len(ts.data)] == ts.loop_bytes(1)
    times = [t for t, _ in chunks]
    assert times == sorted(times) and times[-1] > ts.duration_seconds


def test_position_finds_the_packet_playing_at_a_time(ts: TsLoop) -> None:
    assert ts.position(0) == (0, 0)
    loop, packet = ts.position(2 * ts.duration_seconds + 3.0)
    assert loop == 2
    assert abs(ts.packet_times[packet] - 3.0) < 0.05
    first_time, _ = next(ts.chunks(loop, packet))
    assert abs(first_time - (2 * ts.duration_seconds + 3.0)) < 0.05


def test_rejects_data_that_is_not_a_loopable_ts() -> None:
    with pytest.raises(ValueError):
        TsLoop(b"\x47" + b"\x00" * 186)
    with pytest.raises(ValueError):
        TsLoop(b"\x00" * PACKET_SIZE)


async def test_paced_stream_follows_pcr_at_the_rate(ts: TsLoop) -> None:
    rate = 10.0
    clock = asyncio.get_running_loop()
    started = clock.time()
    sent = 0
    async for chunk in ts.stream(rate=rate):
        sent += len(chunk)
        if sent >= len(ts.data):  # one loop: 8 s of media, 0.8 s at 10x
            break
    elapsed = clock.time() - started
    assert 0.65 < elapsed < 1.5


async def test_unpaced_stream_is_as_fast_as_the_reader(ts: TsLoop) -> None:
    clock = asyncio.get_running_loop()
    started = clock.time()
    chunks: list[bytes] = []
    async with aclosing(ts.stream(rate=None)) as stream:
        async for chunk in stream:
            chunks.append(chunk)
            if len(chunks) == 200:
                break
    assert clock.time() - started < 1.0  # 200 chunks = 13 MB, about 1.6 min of media
    assert b"".join(chunks)[: len(ts.data)] == ts.data
