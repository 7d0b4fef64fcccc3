"""A clean picture on every start: viewers begin at PAT, PMT and a keyframe.

The fake engine runs live-like here: a connection starts wherever the channel's
timeline is, mid-GOP and off a packet boundary, as a real engine's would.
"""

from __future__ import annotations

import asyncio

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.streaming.index import StreamIndex, is_keyframe
from acemux.streaming.ts import PACKET_SIZE, packet_pid
from acemux.web.keys import REGISTRY
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, strip_null_packets

pytestmark = [pytest.mark.e2e, needs_ffmpeg]

URL = "{}/ace/getstream?id=" + DEMO_CONTENT_ID


async def start_timeline_mid_gop(engine: FakeEngine, http) -> None:
    """Open the channel's live timeline at the engine and let it run into a GOP."""
    params = {"id": DEMO_CONTENT_ID, "format": "json"}
    async with http.get(f"{engine.url}/ace/getstream", params=params) as resp:
        assert resp.status == 200
    await asyncio.sleep(0.6)  # the sample has a keyframe every second: now mid-GOP


@pytest.fixture
async def live_engine(http):
    async with FakeEngine(rate=2.0, start_mode="live", misalign=True) as engine:
        await start_timeline_mid_gop(engine, http)
        yield engine


async def test_first_viewer_of_a_fresh_channel_decodes_without_errors(live_engine):
    async with running_proxy(live_engine.url) as proxy:
        code, errors = await decode_url(URL.format(proxy.url), 4)
    assert code == 0 and errors == "", errors


async def test_joiner_decodes_without_errors(live_engine, http):
    async with running_proxy(live_engine.url) as proxy:
        async with RecordingViewer(http, URL.format(proxy.url)) as first:
            await first.wait_bytes(300_000)  # the channel is well into a GOP
            code, errors = await decode_url(URL.format(proxy.url), 4)
    assert code == 0 and errors == "", errors
    assert live_engine.stats.playback_connections == 1


async def test_picture_starts_at_a_keyframe_after_pat_and_pmt(live_engine, http):
    async with running_proxy(live_engine.url) as proxy:
        async with RecordingViewer(http, URL.format(proxy.url)) as viewer:
            await viewer.wait_bytes(200_000)
    data = strip_null_packets(bytes(viewer.data[: len(viewer.data) // PACKET_SIZE * PACKET_SIZE]))
    index = StreamIndex()
    index.scan(data)
    first = {}  # the offset of each PID's first packet
    for at in range(0, len(data), PACKET_SIZE):
        first.setdefault(packet_pid(data, at), at)
    video = first[index.video_pid]
    assert is_keyframe(data[video : video + PACKET_SIZE], index.video_type)
    assert first[0] < video and first[index.pmt_pid] < video  # PAT and PMT come first
    for pid, at in first.items():  # audio and tables start at a unit start, not mid-way
        assert data[at + 1] & 0x40, pid


async def test_forced_reconnect_keeps_every_frame_whole(http):
    async with FakeEngine(rate=2.0) as engine, running_proxy(engine.url) as proxy:
        url = URL.format(proxy.url)
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(100_000)
            decoding = asyncio.create_task(decode_url(url, 6))
            session = proxy.app[REGISTRY].find(DEMO_CONTENT_ID)
            for done in (1, 2):
                await viewer.wait_more(150_000)  # let it play a while
                reconnect = f"{proxy.url}/api/v1/streams/{DEMO_CONTENT_ID}/reconnect"
                async with http.post(reconnect) as resp:
                    assert resp.status == 202
                while session.reconnects < done:
                    await viewer.wait_more(PACKET_SIZE)
            code, errors = await decoding
    assert code == 0 and errors == "", errors
    assert engine.stats.playback_connections == 3
    assert engine.stats.getstream_calls == 1  # the same engine session throughout
