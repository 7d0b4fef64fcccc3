"""What lists the channels: ?only=live as sources die and recover, and a channel as HLS."""

from __future__ import annotations

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from tests.integration.apiclient import get_json, poll_json
from tests.streamclient import RecordingViewer, read_stream, strip_null_packets
from tests.integration.conftest import running_proxy

A = DEMO_CONTENT_ID
B = "b" * 40
PLAYLIST = (
    "#EXTM3U\n"
    '#EXTINF:-1 tvg-id="one" tvg-logo="http://logo/1.png" group-title="Sport",One\n'
    f"acestream://{A}\n"
    '#EXTINF:-1 tvg-id="two",Two\n'
    f"acestream://{B}\n"
)


async def live_playlist(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(base + "/playlist/p.m3u?only=live&token=") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_only_live_drops_a_dead_channel_and_lists_it_again_once_it_works(
    engine: FakeEngine, http: aiohttp.ClientSession, tmp_path
) -> None:
    (tmp_path / "p.m3u").write_text(PLAYLIST)
    settings = dict(
        playlists=f"p={tmp_path / 'p.m3u'}",
        channel_no_data_seconds=1.0,
        channel_backoff_seconds=0.5,
        grace_seconds=0.1,
    )
    async with running_proxy(engine.url, **settings) as proxy:
        assert await live_playlist(http, proxy.url) == "#EXTM3U\n"  # nothing seen working yet
        await read_stream(http, proxy.url + "/channel/one", 100_000)
        await read_stream(http, proxy.url + "/channel/two", 100_000)
        listed = await live_playlist(http, proxy.url)
        assert listed == (
            "#EXTM3U\n"
            '#EXTINF:-1 tvg-id="one" tvg-logo="http://logo/1.png" group-title="Sport",One\n'
            "#KODIPROP:mimetype=video/mp2t\n"
            f"{proxy.url}/channel/one.ts\n"
            '#EXTINF:-1 tvg-id="two",Two\n'
            "#KODIPROP:mimetype=video/mp2t\n"
            f"{proxy.url}/channel/two.ts\n"
        )
        async with http.get(proxy.url + "/playlist/p.m3u?only=live&format=hls") as resp:
            assert f"{proxy.url}/channel/one.m3u8\n" in await resp.text()
        assert strip_null_packets(await read_stream(http, f"{proxy.url}/channel/two.ts", 50_000))
        async with http.head(proxy.url + "/channel/one") as resp:  # a player's probe
            assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp2t"

        engine.faults.silent_ids = {A}
        async with RecordingViewer(http, proxy.url + "/channel/one") as viewer:
            await poll_json(
                http,
                proxy.url + "/api/v1/channels/one",
                lambda c: c["sources"][0]["failures"] > 0,
                timeout=10,
            )
        assert viewer.error is None
        assert "/channel/one" not in await live_playlist(http, proxy.url)
        assert "/channel/two" in await live_playlist(http, proxy.url)

        engine.faults.silent_ids = set()
        await poll_json(
            http,
            proxy.url + "/api/v1/channels/one",
            lambda c: c["state"] == "idle" and c["sources"][0]["state"] == "failed",
            timeout=10,
        )
        data = await read_stream(http, proxy.url + "/channel/one", 100_000)
        assert strip_null_packets(data)
        assert "/channel/one" in await live_playlist(http, proxy.url)
        async with http.get(proxy.url + "/playlist/p.m3u?only=dead") as resp:
            assert resp.status == 400


async def test_a_channel_plays_as_hls_from_its_own_urls(
    engine: FakeEngine, http: aiohttp.ClientSession
) -> None:
    async with running_proxy(engine.url, channels=f"One={A}", hls_segment_seconds=0.5) as proxy:
        async with http.get(proxy.url + "/channel/one.m3u8?token=x") as resp:
            assert resp.status == 200
            playlist = await resp.text()
        segments = [line for line in playlist.splitlines() if line.startswith("http")]
        assert segments and segments[0].startswith(f"{proxy.url}/channel/one/segment/")
        assert segments[0].endswith(".ts?token=x")
        async with http.get(segments[0]) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp2t"
            assert len(await resp.read()) > 0
        hls = await get_json(http, proxy.url + "/api/v1/hls")
        assert hls["channels"][0]["key"] == "one"
        async with http.get(proxy.url + "/channel/one/segment/99999.ts") as resp:
            assert resp.status == 404
        async with http.get(proxy.url + "/channel/nope.m3u8") as resp:
            assert resp.status == 404 and "'nope'" in (await resp.json())["error"]["message"]
