"""Failover with viewers kept: a channel's dead source is replaced by the next, spliced cleanly."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.streaming.ts import NULL_PID, PACKET_SIZE
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.integration.apiclient import get_json
from tests.integration.conftest import running_proxy
from tests.integration.test_resilience import assert_decodes_after_splice, splice_offsets
from tests.streamclient import RecordingViewer

A = DEMO_CONTENT_ID
B = "b" * 40
C = "c" * 40
CHANNELS = f"Sport One={A}|{B}|{C}"
URL = "/channel/sport-one"
LIMIT = 1.5  # seconds without data before a source is failed over


@pytest.fixture
async def fast_engine():
    async with FakeEngine(rate=4.0) as engine:
        yield engine


def calls(engine: FakeEngine) -> dict[str, int]:
    return dict(engine.stats.getstream_calls_by_id)


@needs_ffmpeg
async def test_a_source_dying_mid_stream_is_replaced_with_viewers_kept(fast_engine, http):
    engine = fast_engine
    settings = dict(
        channels=CHANNELS, channel_no_data_seconds=LIMIT, channel_backoff_seconds=60
    )
    async with running_proxy(engine.url, **settings) as proxy:
        async with RecordingViewer(http, proxy.url + URL) as viewer:
            player = asyncio.create_task(decode_url(proxy.url + URL, seconds=40, timeout=60))
            await viewer.wait_bytes(400_000)
            viewer.reset_gaps()
            engine.faults.silent_ids = {A}  # the broadcaster stops
            await engine.stats.wait_for(lambda s: s.getstream_calls_by_id[B] == 1, timeout=10)
            spliced_at = len(viewer.data)
            await viewer.wait_more(600_000)
            print(f"media gap across the failover: {viewer.max_media_gap:.2f} s")
            assert viewer.max_media_gap <= LIMIT + 1.0, viewer.max_media_gap
            assert viewer.max_gap < 1.0  # null packets meanwhile
            channel = await get_json(http, proxy.url + "/api/v1/channels/sport-one")
            assert channel["playing"] == B and channel["switches"] == 1
            first = channel["sources"][0]
            assert first["state"] == "backoff" and "no data" in first["last_error"]
            assert first["retry_in_seconds"] > 50

            # The backup dies too, within the primary's back-off: the third plays, A is not asked.
            engine.faults.silent_ids = {A, B}
            await engine.stats.wait_for(lambda s: s.getstream_calls_by_id[C] == 1, timeout=10)
            await viewer.wait_more(400_000)
            assert calls(engine) == {A: 1, B: 1, C: 1}
            code, errors = await player
        assert viewer.error is None and not viewer.ended
    print(f"live ffmpeg: exit {code}, {len(errors.splitlines())} error lines:\n{errors}")
    assert code == 0, errors  # ffmpeg decoded 40 s of media across both switches
    assert len(splice_offsets(viewer.data[spliced_at - 300_000 :])) >= 2
    await assert_decodes_after_splice(viewer.data)


async def test_first_two_sources_dead_third_plays_within_twice_the_limit(fast_engine, http):
    engine = fast_engine
    engine.faults.silent_ids = {A, B}
    async with running_proxy(engine.url, channels=CHANNELS, channel_no_data_seconds=LIMIT) as proxy:
        started = time.monotonic()
        async with http.get(proxy.url + URL) as resp:
            assert resp.status == 200
            headers_after = time.monotonic() - started
            first_null = first_media = None
            data = bytearray()
            async with asyncio.timeout(2 * LIMIT + 10):
                while first_media is None or len(data) < 200_000:
                    data += await resp.content.readany()
                    now = time.monotonic() - started
                    for at in range(0, len(data) - len(data) % PACKET_SIZE, PACKET_SIZE):
                        pid = (data[at + 1] & 0x1F) << 8 | data[at + 2]
                        if pid == NULL_PID and first_null is None:
                            first_null = now
                        if pid != NULL_PID and first_media is None:
                            first_media = now
        async with http.get(proxy.url + "/metrics") as resp:
            metrics = await resp.text()
    print(f"headers {headers_after:.2f} s, null {first_null:.2f} s, media {first_media:.2f} s")
    assert headers_after < 1.0 and first_null is not None and first_null < 1.0
    assert first_media <= 2 * LIMIT + 2, first_media
    assert calls(engine) == {A: 1, B: 1, C: 1}
    assert 'acemux_upstream_errors_total{cause="failover"} 2.0' in metrics


async def failed_over_to_b(
    engine: FakeEngine, http: aiohttp.ClientSession, more_bytes: int, **settings
) -> tuple[dict, RecordingViewer]:
    """One viewer of the channel until B plays and sends more_bytes: the channel's API view."""
    async with running_proxy(engine.url, channels=CHANNELS, **settings) as proxy:
        async with RecordingViewer(http, proxy.url + URL) as viewer:
            await engine.stats.wait_for(lambda s: s.getstream_calls_by_id[B] == 1, timeout=15)
            await viewer.wait_more(more_bytes)
        return await get_json(http, proxy.url + "/api/v1/channels/sport-one"), viewer


async def test_zero_peers_without_data_fails_over_before_the_no_data_limit(fast_engine, http):
    fast_engine.faults.silent_ids = {A}
    channel, _ = await failed_over_to_b(
        fast_engine, http, 100_000,
        channel_no_data_seconds=60, channel_zero_peers_seconds=1.0, stat_interval=0.3,
    )  # fmt: skip
    first = channel["sources"][0]
    assert "0 peers" in first["last_error"] and first["peers"] == 0


async def test_repeated_stalls_within_the_window_fail_a_source_over(fast_engine, http):
    fast_engine.faults.stall_ids = {A: 0.3}  # every connection to A stalls after 0.3 s
    channel, viewer = await failed_over_to_b(
        fast_engine, http, 300_000,
        stall_seconds=0.5, channel_stall_count=2, channel_stall_window_seconds=30,
    )  # fmt: skip
    assert "2 stalls within 30 s" in channel["sources"][0]["last_error"]
    assert channel["sources"][0]["stalls_in_window"] >= 2
    assert viewer.error is None
    await assert_decodes_after_splice(viewer.data)


async def test_an_engine_withholding_the_stream_past_the_limit_is_failed_over(fast_engine, http):
    engine = fast_engine
    engine.faults.prebuffer_seconds = 60  # headers withheld far longer than the limit
    async with running_proxy(engine.url, channels=CHANNELS, channel_no_data_seconds=LIMIT) as proxy:
        async with RecordingViewer(http, proxy.url + URL) as viewer:
            started = time.monotonic()
            await engine.stats.wait_for(lambda s: s.getstream_calls_by_id[B] == 1, timeout=10)
            waited = time.monotonic() - started
            engine.faults.prebuffer_seconds = 0  # C answers at once
            await engine.stats.wait_for(lambda s: s.getstream_calls_by_id[C] == 1, timeout=10)
            await viewer.wait_more(100_000)
    assert waited < LIMIT + 2, waited
    assert viewer.error is None and viewer.null_packets > 0
