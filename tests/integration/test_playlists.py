"""Configured M3U playlists served with their links pointed at acemux, and /playlist.m3u."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from acemux.cli import _settings, build_parser
from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.web.keys import REGISTRY
from tests.integration.apiclient import get_json
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer

CID = DEMO_CONTENT_ID
OTHER = "b" * 40
HASH = "c" * 40
TOKEN = "pl-t0ken"

PLAYLIST = (
    "\ufeff#EXTM3U\r\n"
    "\r\n"
    '#EXTINF:-1 tvg-id="demo" tvg-logo="http://logo/1.png" group-title="Demo, Test",Demo\r\n'
    f"acestream://{CID}\r\n"
    '#EXTINF:-1 group-title="Engine",Other\r\n'
    f"http://127.0.0.1:6878/ace/getstream?id={OTHER}&pid=7\r\n"
    "#EXTINF:-1,By infohash\r\n"
    f"http://engine:6878/ace/manifest.m3u8?infohash={HASH}\r\n"
    "#EXTINF:-1,Elsewhere\r\n"
    "http://example.com/stream.ts\r\n"
).encode()


def expected(base: str, hls: bool = False, token: str = "", name: str = "home") -> bytes:
    """PLAYLIST with only its three AceStream links pointed at acemux, numbered, with acemux's guide.

    TS links by content id take the .ts path form, each after a Kodi mimetype
    line; the infohash link keeps the query form; HLS links get no Kodi line.
    """
    kodi = "" if hls else "#KODIPROP:mimetype=video/mp2t\r\n"

    def link(selector: str, value: str) -> str:
        and_token = f"&token={token}" if token else ""
        if hls:
            return f"{base}/ace/manifest.m3u8?{selector}={value}{and_token}"
        if selector == "infohash":
            return f"{base}/ace/getstream?infohash={value}{and_token}"
        return f"{base}/ace/getstream/{value}.ts" + (f"?token={token}" if token else "")

    text = PLAYLIST.decode()
    guide = f"{base}/epg/{name}.xml" + (f"?token={token}" if token else "")
    text = text.replace("#EXTM3U", f'#EXTM3U url-tvg="{guide}"')
    for number, title in enumerate(["tvg-id=\"demo\"", "group-title=\"Engine\"", ",By"], 1):
        text = text.replace(f"#EXTINF:-1 {title}", f'#EXTINF:-1 tvg-chno="{number}" {title}')
        text = text.replace(f"#EXTINF:-1{title}", f'#EXTINF:-1 tvg-chno="{number}"{title}')
    text = text.replace(f"acestream://{CID}", kodi + link("id", CID))
    text = text.replace(
        f"http://127.0.0.1:6878/ace/getstream?id={OTHER}&pid=7", kodi + link("id", OTHER)
    )
    text = text.replace(
        f"http://engine:6878/ace/manifest.m3u8?infohash={HASH}", kodi + link("infohash", HASH)
    )
    return text.encode()


class Origin:
    """A playlist provider on 127.0.0.1 whose answers a test changes as it goes."""

    def __init__(self) -> None:
        self.body = PLAYLIST
        self.status = 200
        self.chunked = False
        self.requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if not self.chunked:
            return web.Response(body=self.body, status=self.status)
        resp = web.StreamResponse(status=self.status)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for at in range(0, len(self.body), 512):
            await resp.write(self.body[at : at + 512])
        await resp.write_eof()
        return resp

    async def __aenter__(self) -> "Origin":
        app = web.Application()
        app.router.add_get("/list.m3u", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/list.m3u?user=u&pass=secret"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    async with Origin() as server:
        yield server


async def fetch(http: aiohttp.ClientSession, url: str, status: int = 200) -> bytes:
    async with http.get(url) as resp:
        assert resp.status == status, await resp.text()
        if status == 200:
            assert resp.content_type == "audio/x-mpegurl"
        return await resp.read()


def status_of(body: dict, name: str) -> dict:
    return next(p for p in body["playlists"] if p["name"] == name)


async def test_file_playlist_keeps_everything_but_the_links(engine, http, tmp_path):
    path = tmp_path / "list.m3u"
    path.write_bytes(PLAYLIST)
    async with running_proxy(engine.url, playlists=f"home={path}") as proxy:
        assert await fetch(http, f"{proxy.url}/playlist/home.m3u") == expected(proxy.url)
        hls = await fetch(http, f"{proxy.url}/playlist/home.m3u?format=hls")
        assert hls == expected(proxy.url, hls=True)
        [status] = (await get_json(http, f"{proxy.url}/api/v1/playlists"))["playlists"]
    assert status["kind"] == "file" and status["links"] == 3 and status["stale"] is False
    assert status["bytes"] == len(PLAYLIST) and status["last_error"] is None
    assert engine.stats.getstream_calls == 0, "serving a playlist starts no channel"


async def test_links_carry_the_token_the_playlist_was_asked_with(engine, http, tmp_path):
    path = tmp_path / "list.m3u"
    path.write_bytes(PLAYLIST)
    async with running_proxy(engine.url, playlists=f"home={path}", token=TOKEN) as proxy:
        body = await fetch(http, f"{proxy.url}/playlist/home.m3u?token={TOKEN}")
        assert body == expected(proxy.url, token=TOKEN)
        await fetch(http, f"{proxy.url}/playlist/home.m3u", status=401)


async def test_remote_playlist_is_cached_then_refreshed(engine, http, origin):
    async with running_proxy(
        engine.url, playlists=f"tv={origin.url}", playlist_refresh_seconds=0.3
    ) as proxy:
        url = f"{proxy.url}/playlist/tv.m3u"
        want = expected(proxy.url, name="tv")
        assert await asyncio.gather(fetch(http, url), fetch(http, url)) == [want] * 2
        assert origin.requests == 1, "concurrent requests share one fetch"
        origin.body = PLAYLIST.replace(b"Elsewhere", b"Renamed")
        assert await fetch(http, url) == want  # cached within the interval
        await asyncio.sleep(0.35)  # the refresh interval passes
        assert await fetch(http, url) == want.replace(b"Elsewhere", b"Renamed")
        assert origin.requests == 2
        status = status_of(await get_json(http, f"{proxy.url}/api/v1/playlists"), "tv")
    assert status["kind"] == "url" and status["stale"] is False
    assert "secret" not in status["source"], "credentials in the URL are not shown"


async def test_failing_source_serves_its_last_good_copy_and_says_so(engine, http, origin):
    async with running_proxy(
        engine.url, playlists=f"tv={origin.url}", playlist_refresh_seconds=0.2
    ) as proxy:
        url = f"{proxy.url}/playlist/tv.m3u"
        good = await fetch(http, url)
        origin.status = 500
        await asyncio.sleep(0.25)
        assert await fetch(http, url) == good
        status = status_of(await get_json(http, f"{proxy.url}/api/v1/playlists"), "tv")
        assert status["stale"] is True and "500" in status["last_error"]
        assert status["last_fetch_at"] > status["last_success_at"]
        # An error page that answers 200 does not replace the good copy either.
        origin.status, origin.body = 200, b"<html><body>Service down</body></html>"
        await asyncio.sleep(0.25)
        assert await fetch(http, url) == good
        status = status_of(await get_json(http, f"{proxy.url}/api/v1/playlists"), "tv")
        assert status["stale"] is True and "HTML" in status["last_error"]


async def test_source_that_never_worked_is_a_json_502(engine, http, origin):
    origin.status = 404
    async with running_proxy(engine.url, playlists=f"tv={origin.url}") as proxy:
        async with http.get(f"{proxy.url}/playlist/tv.m3u") as resp:
            assert resp.status == 502
            error = (await resp.json())["error"]
    assert error["code"] == "playlist_unavailable" and "404" in error["message"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_sources_over_the_size_limit_are_refused(engine, http, origin, tmp_path, chunked):
    origin.chunked = chunked
    origin.body = PLAYLIST * 20
    path = tmp_path / "big.m3u"
    path.write_bytes(PLAYLIST * 20)
    sources = f"tv={origin.url};big={path}"
    async with running_proxy(engine.url, playlists=sources, playlist_max_bytes=4096) as proxy:
        for name in ("tv", "big"):
            async with http.get(f"{proxy.url}/playlist/{name}.m3u") as resp:
                assert resp.status == 502
        body = await get_json(http, f"{proxy.url}/api/v1/playlists")
    for name in ("tv", "big"):
        assert "limit of 4096 bytes" in status_of(body, name)["last_error"]


async def test_unknown_playlist_is_a_json_404(engine, proxy, http):
    async with http.get(f"{proxy.url}/playlist/nope.m3u") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_recent_playlist_lists_channels_after_they_played(engine, http):
    async with running_proxy(engine.url, grace_seconds=0.1) as proxy:
        assert await fetch(http, f"{proxy.url}/playlist.m3u") == b"#EXTM3U\n"
        async with RecordingViewer(http, f"{proxy.url}/ace/getstream/{CID}") as viewer:
            await viewer.wait_bytes(10_000)
        await engine.wait_for(lambda s: s.stop_calls == 1)
        body = (await fetch(http, f"{proxy.url}/playlist.m3u?format=hls")).decode()
        ts_body = (await fetch(http, f"{proxy.url}/playlist.m3u")).decode()
    assert body == f"#EXTM3U\n#EXTINF:-1,{CID}\n{proxy.url}/ace/manifest.m3u8?id={CID}\n"
    assert ts_body == (
        f"#EXTM3U\n#EXTINF:-1,{CID}\n#KODIPROP:mimetype=video/mp2t\n"
        f"{proxy.url}/ace/getstream/{CID}.ts\n"
    )


async def test_ts_links_of_a_playlist_play(engine, http, tmp_path):
    path = tmp_path / "list.m3u"
    link = f"http://e:6878/ace/getstream?id={CID}&transcode_audio=1"
    path.write_text(f"#EXTM3U\n#EXTINF:-1,Demo\n{link}\n")
    async with running_proxy(engine.url, playlists=f"home={path}") as proxy:
        lines = (await fetch(http, f"{proxy.url}/playlist/home.m3u")).decode().splitlines()
        assert lines[2:] == [
            "#KODIPROP:mimetype=video/mp2t",
            f"{proxy.url}/ace/getstream/{CID}.ts?transcode_audio=1",
        ]
        async with RecordingViewer(http, lines[3]) as viewer:
            await viewer.wait_bytes(20_000)
            [session] = proxy.app[REGISTRY].sessions()
            assert session.key.name == f"{CID}?transcode_audio=1"
    assert engine.stats.getstream_calls == 1


def test_playlists_setting_from_flag_and_environment(monkeypatch):
    args = build_parser().parse_args(
        ["serve", "--playlists", "a=/srv/a.m3u;b=https://h/get.php?u=1&p=2,c=list.m3u"]
    )
    specs = _settings(args).playlist_specs
    assert [(s.name, s.source, s.remote) for s in specs] == [
        ("a", "/srv/a.m3u", False),
        ("b", "https://h/get.php?u=1&p=2", True),
        ("c", "list.m3u", False),
    ]
    monkeypatch.setenv("ACEMUX_PLAYLISTS", "x=/x.m3u, y=http://y/y.m3u")
    specs = _settings(build_parser().parse_args(["serve"])).playlist_specs
    assert [s.name for s in specs] == ["x", "y"]


async def test_playlist_channels_for_the_dashboard(engine, http, tmp_path):
    path = tmp_path / "list.m3u"
    path.write_bytes(PLAYLIST)
    async with running_proxy(engine.url, playlists=f"home={path}") as proxy:
        body = await get_json(http, f"{proxy.url}/api/v1/playlists/home/channels")
        await get_json(http, f"{proxy.url}/api/v1/playlists/nope/channels", status=404)
    assert body["playlist"] == "home"
    assert [(c["number"], c["name"], c["selector"], c["key"]) for c in body["channels"]] == [
        ("1", "Demo", "id", CID),
        ("2", "Other", "id", OTHER),
        ("3", "By infohash", "infohash", HASH),
    ]
    assert engine.stats.getstream_calls == 0, "listing a playlist starts no channel"
