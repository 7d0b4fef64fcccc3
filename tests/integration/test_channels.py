"""Named channels: /channel/<slug> from playlists and configuration, the API, bad input."""

from __future__ import annotations

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.users import hash_token
from acemux.web.keys import REGISTRY
from tests.integration.apiclient import get_json
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, read_stream, strip_null_packets

A = DEMO_CONTENT_ID
B = "b" * 40
C = "c" * 40

PLAYLIST = (
    "#EXTM3U\n"
    '#EXTINF:-1 tvg-id="Sport.One" tvg-logo="http://logo/s1.png",Sport 1 HD\n'
    f"acestream://{A}\n"
    '#EXTINF:-1 tvg-id="Sport.One",Sport 1 backup\n'
    f"http://127.0.0.1:6878/ace/getstream?id={B}\n"
    "#EXTINF:-1,News 24!\n"
    f"acestream://{C}\n"
    "#EXTINF:-1,news 24\n"
    f"acestream://{C}\n"  # the same source again: a duplicate, skipped
    "#EXTINF:-1,Broken\n"
    "acestream://not-an-id\n"
    "#EXTINF:-1,???\n"
    f"acestream://{B}\n"  # a name that makes no slug
)


async def test_playlist_entries_become_channels_listed_by_the_api(
    engine: FakeEngine, http: aiohttp.ClientSession, tmp_path
) -> None:
    (tmp_path / "p.m3u").write_text(PLAYLIST)
    async with running_proxy(engine.url, playlists=f"p={tmp_path / 'p.m3u'}") as proxy:
        body = await get_json(http, proxy.url + "/api/v1/channels")
        channels = {c["slug"]: c for c in body["channels"]}
        assert list(channels) == ["sport-one", "news-24-"]
        sport = channels["sport-one"]
        assert [s["id"] for s in sport["sources"]] == [A, B]
        assert sport["name"] == "Sport 1 HD" and sport["logo"] == "http://logo/s1.png"
        assert sport["state"] == "idle" and sport["playing"] is None and not sport["live"]
        assert {s["state"] for s in sport["sources"]} == {"untried"}

        data = await read_stream(http, proxy.url + "/channel/sport-one", 200_000)
        assert strip_null_packets(data)
        assert engine.stats.getstream_calls_by_id == {A: 1}  # the primary, once
        async with RecordingViewer(http, proxy.url + "/channel/sport-one") as viewer:
            await viewer.wait_bytes(100_000)
            sport = await get_json(http, proxy.url + "/api/v1/channels/sport-one")
            assert sport["state"] == "playing" and sport["playing"] == A and sport["live"]
            assert sport["clients"] == 1
            first = sport["sources"][0]
            assert first["state"] == "playing" and first["time_to_first_byte_seconds"] >= 0
            assert first["score"] > sport["sources"][1]["score"]
            stream = await get_json(http, proxy.url + "/api/v1/streams/sport-one")
            assert stream["selector"] == "channel" and stream["clients"]
            async with http.get(proxy.url + "/playlist.m3u?format=hls") as resp:
                assert f"{proxy.url}/channel/sport-one.m3u8\n" in await resp.text()

        playlists = (await get_json(http, proxy.url + "/api/v1/playlists"))["playlists"]
        skipped = playlists[0]["skipped"]
        assert len(skipped) == 3, skipped
        assert "line 9: duplicate of p line 7 (channel news-24-)" in skipped
        assert any(s.startswith("line 11:") for s in skipped)
        assert any(s.startswith("line 13:") and "name" in s for s in skipped)


async def test_configured_channels_and_bad_input(
    engine: FakeEngine, http: aiohttp.ClientSession
) -> None:
    engine.faults.unknown_ids = {A, B}
    channels = f"Both Dead={A}|infohash:{B};Fine=acestream://{C}"
    async with running_proxy(engine.url, channels=channels) as proxy:
        async with http.get(proxy.url + "/channel/nope") as resp:
            assert resp.status == 404
            assert "'nope'" in (await resp.json())["error"]["message"]
        async with http.get(proxy.url + "/channel/both-dead") as resp:
            assert resp.status == 503
            assert int(resp.headers["Retry-After"]) >= 1
            error = (await resp.json())["error"]
        assert error["code"] == "channel_unavailable"
        assert f"{A}: getstream failed: engine error: failed to load content" in error["message"]
        assert f"{B}: getstream failed" in error["message"]
        assert engine.stats.getstream_calls_by_id == {A: 1, B: 1}
        # Both back off now: asked again at once, the engine is not bothered.
        async with http.get(proxy.url + "/channel/both-dead") as resp:
            assert resp.status == 503
        assert engine.stats.getstream_calls_by_id == {A: 1, B: 1}
        dead = await get_json(http, proxy.url + "/api/v1/channels/both-dead")
        assert dead["state"] == "unavailable"
        assert [s["state"] for s in dead["sources"]] == ["backoff", "backoff"]
        assert dead["sources"][1]["selector"] == "infohash"

        data = await read_stream(http, proxy.url + "/channel/fine", 100_000)
        assert strip_null_packets(data)
        assert not proxy.app[REGISTRY].find(A)


async def test_named_channels_follow_each_users_playlists_and_stream_limit(
    engine: FakeEngine, http: aiohttp.ClientSession, tmp_path
) -> None:
    (tmp_path / "sports.m3u").write_text(f'#EXTINF:-1 tvg-id="sport1",Sport\nacestream://{A}\n')
    (tmp_path / "news.m3u").write_text(f'#EXTINF:-1 tvg-id="news1",News\nacestream://{B}\n')
    (tmp_path / "users.toml").write_text(
        f'[users.alice]\ntoken_sha256 = "{hash_token("alice-t")}"\n'
        'max_streams = 1\nplaylists = ["sports"]\n'
    )
    settings = dict(
        playlists=f"sports={tmp_path / 'sports.m3u'};news={tmp_path / 'news.m3u'}",
        channels=f"Everyone={C}",
        users_file=str(tmp_path / "users.toml"),
    )
    async with running_proxy(engine.url, **settings) as proxy:
        base, token = proxy.url, "?token=alice-t"
        listed = await get_json(http, f"{base}/api/v1/channels{token}")
        assert [c["slug"] for c in listed["channels"]] == ["sport1", "everyone"]
        async with http.get(f"{base}/channel/news1{token}") as resp:
            assert resp.status == 404 and "'news1'" in (await resp.json())["error"]["message"]
        async with RecordingViewer(http, f"{base}/channel/sport1.ts{token}") as viewer:
            await viewer.wait_bytes(50_000)
            async with http.get(f"{base}/channel/everyone{token}") as resp:
                assert resp.status == 429  # alice's one stream is playing
