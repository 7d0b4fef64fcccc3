"""Warm channels: tuned with no viewers, joined at once, yielding their engine to viewers."""

from __future__ import annotations

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.streaming.index import StreamIndex, is_keyframe
from acemux.streaming.ts import PACKET_SIZE, PAT_PID, packet_pid
from acemux.web.keys import REGISTRY, WARM
from tests.integration.apiclient import get_json, poll_json
from tests.integration.conftest import running_proxy
from tests.streamclient import read_stream, strip_null_packets, wait_until

A = DEMO_CONTENT_ID
B = "b" * 40
C = "c" * 40


def assert_starts_decodable(data: bytes) -> None:
    index = StreamIndex()
    index.scan(data)
    first: dict[int, int] = {}
    for at in range(0, len(data) - len(data) % PACKET_SIZE, PACKET_SIZE):
        first.setdefault(packet_pid(data, at), at)
    video = first[index.video_pid]
    assert is_keyframe(data[video : video + PACKET_SIZE], index.video_type)
    assert first[PAT_PID] < video and first[index.pmt_pid] < video


async def test_a_warm_channel_stays_tuned_and_a_viewer_starts_from_its_buffer(
    engine: FakeEngine, http: aiohttp.ClientSession
) -> None:
    settings = dict(channels=f"Fav={A};Other={B}", warm_channels="fav, nope", grace_seconds=0.1)
    async with running_proxy(engine.url, **settings) as proxy:
        fav = await poll_json(
            http,
            proxy.url + "/api/v1/channels/fav",
            lambda c: c["state"] == "playing" and c["live"],
            timeout=10,
        )
        assert fav["warm"] and fav["clients"] == 0 and fav["playing"] == A
        other = await get_json(http, proxy.url + "/api/v1/channels/other")
        assert not other["warm"] and other["state"] == "idle"
        assert engine.stats.getstream_calls_by_id == {A: 1}

        data = strip_null_packets(await read_stream(http, proxy.url + "/channel/fav", 300_000))
        # Straight from the warm channel's recent data, from a keyframe after PAT and PMT,
        # on the same engine session.
        assert_starts_decodable(data)
        assert engine.stats.getstream_calls_by_id == {A: 1}
        session = proxy.app[REGISTRY].sessions()[0]
        assert session.key.value == "fav"
        await wait_until(lambda: session.refs == 1)  # the viewer left; the warm hold stays
        assert not session.closing
        assert proxy.app[WARM].slugs == ["fav", "nope"]
    # Shut down: the warm channel's engine session is stopped, its playback closed.
    assert engine.stats.stop_calls == 1
    await engine.stats.wait_for(lambda s: s.open_playback == 0)


async def test_a_warm_channel_yields_its_engine_slot_to_a_viewers_channel(
    engine: FakeEngine, http: aiohttp.ClientSession
) -> None:
    settings = dict(channels=f"Fav={A}", warm_channels="fav", engine=f"{engine.url}#max=1")
    async with running_proxy(engine.url, **settings) as proxy:
        await poll_json(
            http,
            proxy.url + "/api/v1/channels/fav",
            lambda c: c["state"] == "playing",
            timeout=10,
        )
        data = await read_stream(http, proxy.url + f"/ace/getstream?id={C}", 100_000)
        assert strip_null_packets(data)
        assert proxy.app[WARM].yielded == 1
        assert [s.key.value for s in proxy.app[REGISTRY].sessions()] == [C]
        fav = await get_json(http, proxy.url + "/api/v1/channels/fav")
        assert fav["state"] == "idle" and fav["warm"]


async def test_warm_channels_are_bounded_by_the_setting(
    engine: FakeEngine, http: aiohttp.ClientSession
) -> None:
    settings = dict(
        channels=f"One={A};Two={B};Three={C}", warm_channels="one,two,three", warm_channels_max=2
    )
    async with running_proxy(engine.url, **settings) as proxy:
        await engine.stats.wait_for(lambda s: s.getstream_calls == 2, timeout=10)
        assert proxy.app[WARM].slugs == ["one", "two"]
        body = await get_json(http, proxy.url + "/api/v1/channels")
        assert [c["warm"] for c in body["channels"]] == [True, True, False]


async def test_a_warm_channel_on_its_backup_returns_to_the_primary_while_nobody_watches(
    engine: FakeEngine, http: aiohttp.ClientSession
) -> None:
    engine.faults.silent_ids = {A}
    settings = dict(
        channels=f"Fav={A}|{B}",
        warm_channels="fav",
        channel_no_data_seconds=1.0,
        channel_backoff_seconds=1.0,
        warm_channels_retune_seconds=0.5,
    )
    async with running_proxy(engine.url, **settings) as proxy:
        url = proxy.url + "/api/v1/channels/fav"
        await poll_json(http, url, lambda c: c["playing"] == B, timeout=10)
        engine.faults.silent_ids = set()  # the primary is back
        fav = await poll_json(http, url, lambda c: c["playing"] == A and c["live"], timeout=10)
    assert fav["sources"][0]["state"] == "playing" and fav["sources"][1]["state"] == "ok"
    assert engine.stats.getstream_calls_by_id[A] >= 2  # asked again: the retune
