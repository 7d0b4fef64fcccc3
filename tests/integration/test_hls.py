"""HLS through acemux: playlists and segments cut from the channel's one TS session."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.streaming.ts import PACKET_SIZE
from acemux.web.keys import HLS
from tests.ffmpeg import decode_bytes, decode_url, needs_ffmpeg
from tests.integration.apiclient import get_json, poll_json
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, free_port, wait_until
from tests.tspackets import pids

CID = DEMO_CONTENT_ID
TOKEN = "hls-t0ken"


async def get_playlist(
    http: aiohttp.ClientSession, url: str, headers: dict | None = None
) -> tuple[str, list[str]]:
    """The playlist's text and its segment URLs."""
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/vnd.apple.mpegurl"
        text = await resp.text()
    return text, [line for line in text.splitlines() if line and not line.startswith("#")]


def media_sequence(playlist: str) -> int:
    return int(re.search(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)$", playlist, re.M).group(1))


async def json_error(http: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    async with http.get(url) as resp:
        assert resp.content_type == "application/json"
        return resp.status, (await resp.json())["error"]


class HlsPoller:
    """A player that polls the playlist and fetches each new segment, like hls.js does."""

    def __init__(self, http: aiohttp.ClientSession, url: str, user_agent: str) -> None:
        self._http, self._url = http, url
        self._headers = {"User-Agent": user_agent}
        self.fetched: dict[str, int] = {}  # segment URL -> size
        self.failures: list[str] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "HlsPoller":
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            _, urls = await get_playlist(self._http, self._url, self._headers)
            for url in urls:
                if url in self.fetched:
                    continue
                async with self._http.get(url, headers=self._headers) as resp:
                    if resp.status != 200:
                        self.failures.append(f"{url}: {resp.status}")
                        continue
                    self.fetched[url] = len(await resp.read())
            await asyncio.sleep(0.5)  # a player reloads a live playlist every few seconds


async def test_playlist_and_segments_point_at_acemux_and_decode(engine, proxy, http):
    text, urls = await get_playlist(http, f"{proxy.url}/ace/manifest.m3u8?id={CID}")
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n")
    assert re.search(r"^#EXT-X-TARGETDURATION:2$", text, re.M)
    assert re.findall(r"^#EXTINF:([\d.]+),$", text, re.M)[0] == "2.000"
    assert urls and all(u.startswith(f"{proxy.url}/ace/segment/") for u in urls)
    assert engine.url not in text
    data = bytearray()
    for url in urls:
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "video/mp2t"
            segment = await resp.read()
        assert int(resp.headers["Content-Length"]) == len(segment)
        assert len(segment) % PACKET_SIZE == 0
        assert pids(segment[: 3 * PACKET_SIZE]) == [0, 4096, 256], "PAT, PMT, keyframe"
        data += segment
    async with http.head(urls[0]) as resp:  # a HEAD gets the headers only
        assert resp.status == 200 and int(resp.headers["Content-Length"]) > 0
        assert await resp.read() == b""
    async with http.get(urls[0]) as resp:  # and the connection stays usable
        assert resp.status == 200
    code, errors = await decode_bytes(bytes(data))
    assert code == 0 and errors == ""


async def test_segment_numbers_stay_while_the_window_slides(http):
    async with FakeEngine(rate=20) as engine, running_proxy(engine.url) as proxy:
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        first_text, first_urls = await get_playlist(http, url)
        async with http.get(first_urls[-1]) as resp:
            kept = await resp.read()
        # More than a window's worth (6 segments of 2 s) arrives.
        await engine.wait_for(lambda s: s.bytes_sent > 2_000_000, timeout=20)
        later_text, later_urls = await get_playlist(http, url)
        async with http.get(first_urls[-1]) as resp:
            assert await resp.read() == kept  # still in the ring: the same bytes
    start = media_sequence(later_text)
    assert media_sequence(first_text) == 0 < start
    numbers = [int(re.search(r"/segment/(\d+)\.ts", u).group(1)) for u in later_urls]
    assert numbers == list(range(start, start + 6))


@needs_ffmpeg
async def test_ffmpeg_reads_hls_while_other_viewers_share_one_engine_session(http):
    # Live playlists need a stream at about real time; a little faster keeps this short.
    async with FakeEngine(rate=1.5) as engine, running_proxy(engine.url) as proxy:
        manifest = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        async with (
            HlsPoller(http, manifest, "hls.js/1") as first,
            HlsPoller(http, manifest, "AppleCoreMedia/1") as second,
            RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}") as ts_viewer,
        ):
            code, errors = await decode_url(manifest, 10, timeout=40)
            await ts_viewer.wait_more(100_000)
            status = await get_json(http, f"{proxy.url}/api/v1/hls")
            [stream] = (await get_json(http, f"{proxy.url}/api/v1/streams"))["streams"]
        assert (code, errors) == (0, "")
        assert len(stream["clients"]) == 1  # the TS viewer; HLS players are listed apart
        assert {"hls.js/1", "AppleCoreMedia/1"} <= {c["user_agent"] for c in stream["hls_clients"]}
        for poller in (first, second):
            assert poller.failures == []
            assert len(poller.fetched) >= 4
        assert engine.stats.getstream_calls == 1
        assert engine.stats.playback_connections == 1
        [channel] = status["channels"]
        agents = {client["user_agent"] for client in channel["clients"]}
        assert {"hls.js/1", "AppleCoreMedia/1"} <= agents
        assert any(agent.startswith("Lavf") for agent in agents)  # ffmpeg
        assert channel["viewers"] == len(channel["clients"]) >= 3


@needs_ffmpeg
async def test_segment_after_an_upstream_reconnect_is_a_discontinuity_and_decodes(http):
    # Each connection lasts ~0.5 s of wall time at rate 8; the short young threshold
    # keeps it a healthy connection, reconnected on the same URL.
    settings = dict(upstream_young_seconds=0.2)
    async with FakeEngine(rate=8.0) as engine, running_proxy(engine.url, **settings) as proxy:
        engine.faults.drop_after_bytes = 400_000  # about 4 s of stream per connection
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        text, _ = await get_playlist(http, url)
        while "#EXT-X-DISCONTINUITY\n" not in text:
            opened = engine.stats.playback_connections
            await engine.wait_for(lambda s: s.playback_connections > opened)
            text, _ = await get_playlist(http, url)
        after = text.split("#EXT-X-DISCONTINUITY\n", 1)[1]
        spliced = next(line for line in after.splitlines() if not line.startswith("#"))
        async with http.get(spliced) as resp:
            data = await resp.read()
    assert engine.stats.getstream_calls == 1
    assert await decode_bytes(data) == (0, "")


async def test_idle_hls_channel_is_released_then_stopped_at_the_engine(engine, http):
    async with running_proxy(engine.url, hls_idle_seconds=0.6, grace_seconds=0.2) as proxy:
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        _, urls = await get_playlist(http, url)
        # Requests keep coming for longer than the idle time: the channel stays.
        for _ in range(6):
            async with http.get(urls[0]) as resp:
                assert resp.status == 200
            await asyncio.sleep(0.2)
        assert engine.stats.stop_calls == 0
        # No more requests: let go after the idle time, stopped after the grace period.
        await engine.wait_for(lambda s: s.stop_calls == 1, timeout=5)
        assert (await get_json(http, f"{proxy.url}/api/v1/hls"))["channels"] == []
        status, error = await json_error(http, urls[0])
        assert status == 404 and error["code"] == "not_found"
        await wait_until(lambda: len(proxy.app[HLS]) == 0)  # nothing kept of it


async def test_player_back_before_the_channel_stopped_keeps_its_segment_numbers(engine, http):
    async with running_proxy(engine.url, hls_idle_seconds=0.3, grace_seconds=5) as proxy:
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        first_text, first_urls = await get_playlist(http, url)
        status_url = f"{proxy.url}/api/v1/hls"
        await poll_json(http, status_url, lambda body: not body["channels"][0]["held"])
        text, urls = await get_playlist(http, url)  # within the grace period
        assert media_sequence(text) == media_sequence(first_text)
        assert urls[: len(first_urls)] == first_urls
        [channel] = (await get_json(http, status_url))["channels"]
        assert channel["held"] is True
    assert engine.stats.getstream_calls == 1 and engine.stats.stop_calls == 1


async def test_viewer_token_goes_into_its_segment_urls_only(engine, http):
    async with running_proxy(engine.url, token=TOKEN) as proxy:
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        _, urls = await get_playlist(http, f"{url}&token={TOKEN}")
        assert all(u.endswith(f"&token={TOKEN}") for u in urls)
        async with http.get(urls[0]) as resp:
            assert resp.status == 200
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        text, urls = await get_playlist(http, url, headers=bearer)
        assert TOKEN not in text
        async with http.get(urls[0]) as resp:
            assert resp.status == 401
        async with http.get(url) as resp:
            assert resp.status == 401


async def test_forwarded_headers_are_used_only_when_trusted(engine, http):
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "tv.example.com",
        "X-Forwarded-Port": "443",
    }
    async with running_proxy(engine.url) as proxy:
        _, urls = await get_playlist(
            http, f"{proxy.url}/ace/manifest.m3u8?id={CID}", headers=forwarded
        )
        assert all(u.startswith(f"{proxy.url}/ace/segment/") for u in urls)
    async with running_proxy(engine.url, trust_forwarded_headers=True) as proxy:
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        _, urls = await get_playlist(http, url, headers=forwarded)
        assert all(u.startswith("https://tv.example.com/ace/segment/") for u in urls)
        other_port = {**forwarded, "X-Forwarded-Proto": "http", "X-Forwarded-Port": "8443"}
        _, urls = await get_playlist(http, url, headers=other_port)
        assert urls[0].startswith("http://tv.example.com:8443/ace/segment/")


async def test_extra_parameters_stay_with_the_channel(engine, proxy, http):
    url = f"{proxy.url}/ace/manifest.m3u8?id={CID}&transcode_audio=1"
    _, urls = await get_playlist(http, url)
    assert "transcode_audio=1" in urls[0]
    async with http.get(urls[0]) as resp:
        assert resp.status == 200
    assert engine.stats.getstream_calls == 1


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/ace/manifest.m3u8", 400, "bad_request"),
        ("/ace/manifest.m3u8?id=12345", 400, "bad_request"),
        (f"/ace/segment/0.ts?id={CID}", 404, "not_found"),
        ("/ace/segment/0.ts?id=nothex", 400, "bad_request"),
    ],
    ids=["missing-id", "bad-id", "segment-of-idle-channel", "segment-bad-id"],
)
async def test_bad_requests_are_json_errors(engine, proxy, http, path, status, code):
    got_status, error = await json_error(http, proxy.url + path)
    assert (got_status, error["code"]) == (status, code)
    assert engine.stats.getstream_calls == 0


async def test_engine_error_is_502_and_unreachable_engine_503(engine, proxy, http):
    engine.faults.getstream_error = "failed to load content"
    status, error = await json_error(http, f"{proxy.url}/ace/manifest.m3u8?id={CID}")
    assert (status, error["code"]) == (502, "engine_error")
    assert "failed to load content" in error["message"]
    async with running_proxy(f"http://127.0.0.1:{free_port()}") as dead:
        status, error = await json_error(http, f"{dead.url}/ace/manifest.m3u8?id={CID}")
    assert (status, error["code"]) == (503, "engine_unavailable")


async def test_segments_not_made_yet_or_gone_from_the_ring_are_404(engine, http):
    async with running_proxy(engine.url, ring_bytes=256 * 1024) as proxy:
        url = f"{proxy.url}/ace/manifest.m3u8?id={CID}"
        text, urls = await get_playlist(http, url)
        first = media_sequence(text)
        future = urls[-1].replace(f"/segment/{first + len(urls) - 1}.ts", "/segment/99999.ts")
        status, error = await json_error(http, future)
        assert (status, error["code"]) == (404, "not_found")
        # 256 KiB hold a few seconds: the first segment soon leaves ring and playlist.
        while media_sequence(text) == first:
            await engine.wait_for(lambda s, sent=engine.stats.bytes_sent: s.bytes_sent > sent)
            text, _ = await get_playlist(http, url)
        status, error = await json_error(http, urls[0])
        assert (status, error["code"]) == (404, "not_found")
