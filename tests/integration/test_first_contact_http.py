"""What real players send on first contact: HEAD probes, Range, Icy-MetaData, HTTP/1.0, bursts.

Kodi, Kodi IPTV Simple and Jellyfin probe a stream with HEAD before (or
instead of) playing it; a HEAD must answer at once with the GET's status and
headers, send no body and never reach the engine. Spoken over raw sockets,
since aiohttp's client hides bytes after a HEAD's headers.
"""

from __future__ import annotations

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.streaming.ts import PACKET_SIZE
from acemux.web.keys import REGISTRY
from tests.integration.conftest import running_proxy
from tests.rawhttp import RawConnection, head_request
from tests.streamclient import read_n
from tests.tspackets import assert_whole_packets

CID = DEMO_CONTENT_ID
TOKEN = "h3ad-t0ken"

STREAM_ROUTES = [f"/ace/getstream?id={CID}", f"/ace/getstream/{CID}", f"/ace/getstream/{CID}.ts"]
MANIFEST = f"/ace/manifest.m3u8?id={CID}"
# Every other GET route; none of them starts a channel.
OTHER_ROUTES = [
    "/playlist.m3u",
    "/playlist/home.m3u",
    "/ace/status",
    "/api/v1/streams",
    "/api/v1/engines",
    "/api/v1/hls",
    "/api/v1/playlists",
    "/healthz",
    "/metrics",
    "/",
    "/static/dashboard.js",
]


def content_type(headers) -> str:
    return headers.get("Content-Type", "").split(";")[0].strip().lower()


@pytest.fixture
async def served(engine, tmp_path):
    playlist = tmp_path / "home.m3u"
    playlist.write_text(f"#EXTM3U\n#EXTINF:-1,Demo\nacestream://{CID}\n")
    async with running_proxy(engine.url, playlists=f"home={playlist}") as proxy:
        yield proxy


async def test_head_on_a_stream_answers_headers_only_and_never_reaches_the_engine(engine, served):
    for target in STREAM_ROUTES:
        status, headers, body = await head_request(served.port, target)
        assert status == 200, target
        assert headers["Content-Type"] == "video/mp2t", target
        assert "Content-Length" not in headers and "Transfer-Encoding" not in headers, target
        assert body == b"", f"{target}: {len(body)} body bytes after a HEAD"
    assert engine.stats.getstream_calls == 0
    assert len(served.app[REGISTRY]) == 0, "no channel was opened"


async def test_head_on_every_other_route_matches_its_get_without_a_body(engine, served, http):
    status, headers, body = await head_request(served.port, MANIFEST)
    assert status == 200 and content_type(headers) == "application/vnd.apple.mpegurl"
    assert "no-cache" in headers["Cache-Control"] and body == b""
    for target in OTHER_ROUTES:
        async with http.get(served.url + target) as resp:
            expected_status, expected_type = resp.status, content_type(resp.headers)
        status, headers, body = await head_request(served.port, target)
        assert (status, content_type(headers)) == (expected_status, expected_type), target
        assert body == b"", f"{target}: {len(body)} body bytes after a HEAD"
    assert engine.stats.getstream_calls == 0
    assert len(served.app[REGISTRY]) == 0
    async with http.get(f"{served.url}/playlist.m3u") as resp:
        assert CID not in await resp.text(), "a HEAD is no play: /playlist.m3u stays empty"


async def test_head_with_bad_input_gets_the_gets_error_status(engine, served):
    cases = {
        "/ace/getstream?id=nothex": 400,
        "/ace/getstream": 400,
        "/ace/getstream/zzz": 400,
        "/ace/getstream/zzz.ts": 400,
        "/ace/manifest.m3u8?id=nothex": 400,
        f"/ace/segment/0.ts?id={CID}": 404,  # not playing as HLS
        "/playlist/nope.m3u": 404,
        "/no/such/path": 404,
        f"/api/v1/streams/{CID}": 404,
    }
    for target, expected in cases.items():
        status, headers, body = await head_request(served.port, target)
        assert status == expected, target
        assert content_type(headers) == "application/json", target
        assert body == b"", target
    assert engine.stats.getstream_calls == 0


async def test_head_needs_the_token_like_a_get(engine):
    async with running_proxy(engine.url, token=TOKEN) as proxy:
        status, _, body = await head_request(proxy.port, f"/ace/getstream?id={CID}")
        assert status == 401 and body == b""
        status, headers, body = await head_request(
            proxy.port, f"/ace/getstream?id={CID}&token={TOKEN}"
        )
        assert status == 200 and headers["Content-Type"] == "video/mp2t" and body == b""
    assert engine.stats.getstream_calls == 0


async def test_head_at_a_limit_gets_the_gets_503(engine, http):
    other = "b" * 40
    async with running_proxy(engine.url, max_channels=1, max_clients_per_channel=1) as proxy:
        async with http.get(f"{proxy.url}/ace/getstream?id={CID}") as playing:
            await read_n(playing.content, PACKET_SIZE)
            for target in (f"/ace/getstream?id={other}", f"/ace/getstream?id={CID}"):
                async with http.get(proxy.url + target) as resp:
                    expected = resp.status, resp.headers.get("Retry-After")
                status, headers, body = await head_request(proxy.port, target)
                assert expected[0] == 503 and (status, headers.get("Retry-After")) == expected
                assert content_type(headers) == "application/json" and body == b""
        assert engine.stats.getstream_calls == 1


async def test_jellyfin_stream_sharing_check_sees_an_mpeg_ts_stream(engine, served):
    # Jellyfin 10.10 shares a stream only when this HEAD says 2xx and video/MP2T.
    headers = {
        "User-Agent": "Jellyfin-Server/10.10.0",
        "Accept": "application/json, application/*+json, */*",
    }
    status, response_headers, body = await head_request(
        served.port, f"/ace/getstream?id={CID}", headers
    )
    assert 200 <= status < 300
    assert response_headers["Content-Type"].lower() == "video/MP2T".lower()
    assert body == b""
    assert engine.stats.getstream_calls == 0


async def test_head_keeps_the_connection_for_the_next_request(engine, served):
    # A keep-alive HEAD, then a request on the same connection: its answer comes
    # right after the HEAD's headers, with no byte in between.
    async with RawConnection(served.port) as conn:
        conn.send("HEAD", f"/ace/getstream/{CID}")
        _, status, headers = await conn.read_head()
        assert status == 200 and headers["Content-Type"] == "video/mp2t"
        conn.send("GET", "/healthz", {"Connection": "close"})
        _, status, _ = await conn.read_head()
        assert status == 200
        assert (await conn.read_to_eof()).startswith(b'{"status": "ok"')
    assert engine.stats.getstream_calls == 0



async def test_range_icy_and_compression_requests_get_the_plain_live_stream(engine, proxy, http):
    # Players ask for ranges (Kodi, VLC), Icy metadata (VLC, foobar) and compression:
    # a live stream has none of them, so each gets the same plain 200 stream.
    asks = [
        {"Range": "bytes=0-"},
        {"Range": "bytes=1000000-"},
        {"Icy-MetaData": "1"},
        {"Accept-Encoding": "gzip, deflate, br"},
    ]
    for headers in asks:
        async with http.get(f"{proxy.url}/ace/getstream/{CID}.ts", headers=headers) as resp:
            assert resp.status == 200, headers
            assert resp.headers["Content-Type"] == "video/mp2t"
            for absent in ("Content-Length", "Content-Range", "Content-Encoding"):
                assert absent not in resp.headers, (headers, absent)
            assert resp.headers.get("Accept-Ranges", "none") != "bytes", headers
            assert not [name for name in resp.headers if name.lower().startswith("icy-")]
            data = await read_n(resp.content, 50 * PACKET_SIZE)
        assert_whole_packets(data)
    assert engine.stats.getstream_calls == 1, "one channel served them all"


async def test_http_10_gets_a_close_delimited_whole_packet_body(engine, proxy, http):
    async with RawConnection(proxy.port) as conn:
        conn.send("GET", f"/ace/getstream?id={CID}", version="1.0")
        _, status, headers = await conn.read_head()
        assert status == 200 and headers["Content-Type"] == "video/mp2t"
        assert "Transfer-Encoding" not in headers and "Content-Length" not in headers
        assert headers.get("Connection", "close").lower() == "close"
        start = await conn.read_exactly(300 * PACKET_SIZE)
        assert_whole_packets(start)  # raw packets, no chunk framing
        # Stopping the channel ends the stream: the body ends where the connection does,
        # on a packet boundary.
        async with http.delete(f"{proxy.url}/api/v1/streams/{CID}") as resp:
            assert resp.status == 200
        rest = await conn.read_to_eof()
    assert_whole_packets(start + rest)


async def test_kodi_burst_of_probes_and_plays_costs_one_engine_session(engine, http):
    # Kodi IPTV Simple: HEAD, a GET of 1 KiB then hang up, then the player's GET; a
    # retry or channel info adds another GET. All within the grace period.
    async with running_proxy(engine.url, grace_seconds=5) as proxy:
        status, _, body = await head_request(proxy.port, f"/ace/getstream?id={CID}")
        assert status == 200 and body == b""
        async with RawConnection(proxy.port) as conn:
            conn.send("GET", f"/ace/getstream?id={CID}", {"User-Agent": "Kodi/21.0"})
            _, status, _ = await conn.read_head()
            assert status == 200
            await conn.read_exactly(1024)
        for _ in range(2):
            async with http.get(f"{proxy.url}/ace/getstream?id={CID}") as resp:
                assert resp.status == 200
                assert len(await read_n(resp.content, 100_000)) == 100_000
    assert engine.stats.getstream_calls == 1
    assert engine.stats.playback_connections == 1
