"""Faults upstream: viewers stay connected, keep receiving TS, and resume cleanly."""

from __future__ import annotations

import asyncio

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.streaming.ts import PACKET_SIZE, find_section_starts
from acemux.web.keys import POOL, REGISTRY
from tests.fake_engine.tsparse import parse_packets, unflagged_continuity_errors
from tests.ffmpeg import decode_bytes, needs_ffmpeg
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, free_port
from tests.tspackets import assert_whole_packets

CID = DEMO_CONTENT_ID
PATH = f"/ace/getstream?id={CID}"


def splice_offsets(data: bytes) -> list[int]:
    """Offsets of the PAT's discontinuity packet, which acemux puts in every splice.

    Each PID's marker sits right before its first packet after the splice;
    the PAT's always comes before the keyframe (the PAT itself goes ahead), so
    decoding from it sees the whole restart.
    """
    offsets = []
    start = packet_start(data)
    for at in range(start, len(data) - PACKET_SIZE + 1, PACKET_SIZE):
        adaptation_only = (data[at + 3] >> 4) & 0x3 == 0x2
        pid = (data[at + 1] & 0x1F) << 8 | data[at + 2]
        if pid == 0 and adaptation_only and data[at + 4] and data[at + 5] & 0x80:
            offsets.append(at)
    return offsets


def packet_start(data: bytes) -> int:
    """Where whole packets begin in `data` (a recording may be cut anywhere)."""
    for start in range(PACKET_SIZE):
        probes = range(start, min(len(data), start + 8 * PACKET_SIZE), PACKET_SIZE)
        if all(data[at] == 0x47 for at in probes):
            return start
    raise AssertionError("no packet boundary found")


def whole(data: bytes) -> bytes:
    return bytes(data[: len(data) - len(data) % PACKET_SIZE])


def cut_before_last_video_frame(data: bytes) -> bytes:
    """The recording up to the start of its last video frame, which may be incomplete."""
    video_pid = 256  # the fake engine sample's H.264 stream
    starts = find_section_starts(whole(data), video_pid)
    return bytes(data[: starts[-1]])


async def assert_decodes_after_splice(data: bytes) -> None:
    splices = splice_offsets(data)
    assert splices, "no splice found in the stream"
    code, errors = await decode_bytes(cut_before_last_video_frame(data[splices[-1] :]))
    assert code == 0 and errors == "", errors


@pytest.fixture
async def fast_engine():
    async with FakeEngine(rate=8.0) as engine:
        yield engine


@needs_ffmpeg
async def test_upstream_drop_reconnects_to_the_same_playback_url(fast_engine, http):
    engine = fast_engine
    engine.faults.drop_after_bytes = 400_000
    # Each connection lasts ~0.5 s of wall time at rate 8: healthy by this setting
    # (by the default 5 s it would be a flapping engine, see test_flapping.py).
    async with running_proxy(engine.url, upstream_young_seconds=0.2) as proxy:
        async with RecordingViewer(http, proxy.url + PATH) as viewer:
            await viewer.wait_bytes(1_300_000)
        session = proxy.app[REGISTRY].find(CID)
        assert session.reconnects >= 2
    assert viewer.error is None and not viewer.ended
    assert_whole_packets(whole(viewer.data))
    assert viewer.max_gap < 1.0
    assert engine.stats.getstream_calls == 1  # the same session's URL worked again
    assert engine.stats.playback_connections >= 3
    await assert_decodes_after_splice(viewer.data)


@needs_ffmpeg
async def test_an_engine_that_restarts_the_content_on_reconnect_splices_cleanly(http):
    """VOD content, or an engine restarted: every connection starts the file again."""
    async with FakeEngine(rate=8.0, start_mode="start_of_file", drop_after_bytes=400_000) as engine:
        async with running_proxy(engine.url) as proxy:
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                await viewer.wait_bytes(1_300_000)
    data = whole(viewer.data)
    splices = splice_offsets(data)
    assert len(splices) >= 2 and engine.stats.playback_connections >= 3
    for at in splices:
        packets = parse_packets(data[at : at + 600 * PACKET_SIZE])
        pat, pmt = (next(i for i, p in enumerate(packets) if p.pid == pid and p.has_payload)
                    for pid in (0, 4096))  # fmt: skip
        video = next(i for i, p in enumerate(packets) if p.pid == 256)  # its marker included
        assert pat < video and pmt < video, "PAT and PMT come before any video packet"
    assert unflagged_continuity_errors(parse_packets(data)) == []
    await assert_decodes_after_splice(data)


@needs_ffmpeg
async def test_stalled_upstream_is_replaced_and_viewers_get_null_packets(fast_engine, http):
    engine = fast_engine
    engine.faults.stall_after_bytes = 300_000
    engine.faults.stall_seconds = 60
    async with running_proxy(engine.url, stall_seconds=1.0) as proxy:
        async with RecordingViewer(http, proxy.url + PATH) as viewer:
            await viewer.wait_bytes(700_000)
    assert viewer.error is None
    assert viewer.null_packets > 0, "silence was filled with null packets"
    assert viewer.max_gap < 1.0
    assert 1.0 <= viewer.max_media_gap < 3.0
    assert_whole_packets(whole(viewer.data))
    await assert_decodes_after_splice(viewer.data)


@needs_ffmpeg
async def test_garbage_is_cut_out_at_packet_boundaries(fast_engine, http):
    engine = fast_engine
    engine.faults.garbage_after_bytes = 200_000 + 57
    async with running_proxy(engine.url) as proxy:
        async with RecordingViewer(http, proxy.url + PATH) as viewer:
            await viewer.wait_bytes(600_000)
    assert_whole_packets(whole(viewer.data))
    assert engine.stats.playback_connections == 1
    code, errors = await decode_bytes(cut_before_last_video_frame(viewer.data))
    # Only the one packet the garbage landed in is lost (one damaged frame).
    assert code == 0 and len(errors.splitlines()) <= 4, errors


async def test_getstream_errors_then_succeeds_while_viewers_wait(fast_engine, http):
    engine = fast_engine
    async with running_proxy(engine.url) as proxy:
        async with RecordingViewer(http, proxy.url + PATH) as viewer:
            await viewer.wait_bytes(200_000)
            # The engine forgets the session (its URLs now answer 403) and then
            # refuses the next two getstreams.
            engine.faults.getstream_error = "failed to load content"
            engine.faults.getstream_error_count = 2
            engine.sessions.end_all("engine restarted")
            viewer.reset_gaps()
            await viewer.wait_more(300_000)
    assert viewer.error is None and not viewer.ended
    assert viewer.max_gap < 1.0
    assert engine.stats.getstream_calls == 4  # first, two refused, one that worked
    session_ids = list(engine.stats.stop_calls_by_session)
    assert all(count == 1 for count in engine.stats.stop_calls_by_session.values()), session_ids


async def test_engine_down_then_back_viewers_stay(http):
    port = free_port()
    async with FakeEngine(port=port, rate=8.0) as engine:
        async with running_proxy(engine.url, breaker_reset_seconds=0.5) as proxy:
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                await viewer.wait_bytes(200_000)
                await engine.stop()  # connections refused from now on
                viewer.reset_gaps()
                await asyncio.wait_for(_until_reconnecting(proxy), 5)
                await asyncio.sleep(1.5)  # the outage lasts a while, by design of the test
                await engine.start()
                await viewer.wait_more(300_000)
            assert viewer.error is None and not viewer.ended
            assert viewer.max_gap < 1.0  # null packets all through the outage
            assert viewer.max_media_gap >= 1.5
            assert engine.stats.open_playback == 1


async def _until_reconnecting(proxy) -> None:
    session = proxy.app[REGISTRY].find(CID)
    while session.state != "reconnecting":
        await asyncio.sleep(0.02)


async def test_engine_gone_for_good_ends_the_stream_cleanly(http):
    async with FakeEngine(rate=8.0) as engine:
        async with running_proxy(engine.url, retry_budget_seconds=1.5) as proxy:
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                await viewer.wait_bytes(100_000)
                await engine.stop()
                await viewer.wait_ended(timeout=10)
            assert viewer.error is None, "a clean end of stream, not a reset"
            assert len(proxy.app[REGISTRY]) == 0
            assert_whole_packets(whole(viewer.data))


async def test_slow_prebuffer_keeps_viewers_alive_with_null_packets(http):
    async with FakeEngine(rate=2.0, prebuffer_seconds=15) as engine:
        async with running_proxy(engine.url) as proxy:
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                assert viewer.status == 200  # headers at once, not after the prebuffer
                await viewer.wait_bytes(PACKET_SIZE, timeout=1.0)  # nulls within 1 s
                await viewer.wait_bytes(300_000, timeout=25)
    assert viewer.max_gap < 1.0
    assert viewer.null_packets > 15 * 20  # a steady trickle through the wait
    assert_whole_packets(whole(viewer.data))
    assert engine.stats.playback_connections == 1


async def test_dead_engine_fails_fast_and_is_taken_back_when_it_recovers(http):
    port = free_port()
    dead = f"http://127.0.0.1:{port}"
    settings = dict(breaker_failures=2, breaker_reset_seconds=0.5, engine_check_interval=0.2)
    async with running_proxy(dead, **settings) as proxy:
        messages = []
        for _ in range(3):  # health checks and failed requests mark the engine down
            async with http.get(proxy.url + PATH) as resp:
                assert resp.status == 503
                messages.append((await resp.json())["error"]["message"])
                assert int(resp.headers["Retry-After"]) >= 1
        assert "no engine is available" in messages[-1]  # refused at once, engine named
        assert dead in messages[-1]
        async with FakeEngine(port=port, rate=8.0) as engine:
            [member] = proxy.app[POOL].members
            while not member.healthy:  # the next health check or breaker probe
                await member.health.next_check()
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                await viewer.wait_bytes(50_000)
            assert engine.stats.getstream_calls == 1


async def test_limits_answer_503_and_leave_others_playing(engine, http):
    async with running_proxy(engine.url, max_clients_per_channel=2, max_channels=1) as proxy:
        async with RecordingViewer(http, proxy.url + PATH) as first:
            async with RecordingViewer(http, proxy.url + PATH) as second:
                await second.wait_bytes(10_000)
                async with http.get(proxy.url + PATH) as resp:
                    assert resp.status == 503
                    body = await resp.json()
                    assert body["error"]["code"] == "limit_reached"
                    assert "Retry-After" in resp.headers
                async with http.get(f"{proxy.url}/ace/getstream?id={'e' * 40}") as resp:
                    assert resp.status == 503
                    assert "channel limit" in (await resp.json())["error"]["message"]
                await first.wait_more(50_000)
                await second.wait_more(50_000)
