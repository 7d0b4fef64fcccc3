"""CORS: pages on other origins (hls.js) read manifests, segments, playlists, the API, errors."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import ValidationError

from acemux.cli import _settings, build_parser
from acemux.fake_engine import DEMO_CONTENT_ID
from tests.integration.conftest import make_settings, running_proxy

CID = DEMO_CONTENT_ID
TOKEN = "c0rs-t0ken"
PAGE = "https://player.example"
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "range,x-playback-session-id",
}


async def answer(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict | None = None
) -> aiohttp.ClientResponse:
    """Status and headers of a request from PAGE (the body is read and dropped)."""
    async with http.request(method, url, headers={"Origin": PAGE, **(headers or {})}) as resp:
        await resp.read()
    return resp


def allow_headers(resp: aiohttp.ClientResponse) -> set[str]:
    return {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}


async def test_hls_playlists_api_and_errors_carry_allow_origin(engine, http, tmp_path):
    playlist = tmp_path / "home.m3u"
    playlist.write_text(f"#EXTM3U\n#EXTINF:-1,Demo\nacestream://{CID}\n")
    async with running_proxy(engine.url, playlists=f"home={playlist}") as proxy:
        manifest = await answer(http, "GET", f"{proxy.url}/ace/manifest.m3u8?id={CID}")
        async with http.get(f"{proxy.url}/ace/manifest.m3u8?id={CID}") as resp:
            segment_url = [line for line in (await resp.text()).splitlines() if line[:1] != "#"][0]
        responses = {
            "manifest": manifest,
            "segment": await answer(http, "GET", segment_url),
            "segment HEAD": await answer(http, "HEAD", segment_url),
            "stream HEAD": await answer(http, "HEAD", f"{proxy.url}/ace/getstream/{CID}.ts"),
            "playlist": await answer(http, "GET", f"{proxy.url}/playlist/home.m3u"),
            "recent playlist": await answer(http, "GET", f"{proxy.url}/playlist.m3u"),
            "api": await answer(http, "GET", f"{proxy.url}/api/v1/streams"),
            "api one": await answer(http, "GET", f"{proxy.url}/api/v1/streams/{CID}"),
            "status": await answer(http, "GET", f"{proxy.url}/ace/status"),
            "bad id": await answer(http, "GET", f"{proxy.url}/ace/getstream?id=nothex"),
            "gone segment": await answer(
                http, "GET", f"{proxy.url}/ace/segment/999999.ts?id={CID}"
            ),
            "unknown path": await answer(http, "GET", f"{proxy.url}/nothing/here"),
        }
        # Changing requests are for acemux's own dashboard, not for pages elsewhere.
        changing = await answer(http, "POST", f"{proxy.url}/api/v1/streams/{'e' * 40}/reconnect")
    statuses = {name: resp.status for name, resp in responses.items()}
    assert statuses == {
        **{name: 200 for name in responses},
        "bad id": 400,
        "gone segment": 404,
        "unknown path": 404,
    }
    for name, resp in responses.items():
        assert resp.headers.get("Access-Control-Allow-Origin") == "*", name
        assert "Retry-After" in resp.headers["Access-Control-Expose-Headers"], name
        assert "Vary" not in resp.headers, f"{name}: one answer for every origin"
    for name in ("manifest", "playlist", "recent playlist"):  # live playlists
        cache_control = responses[name].headers["Cache-Control"]
        assert "no-cache" in [part.strip() for part in cache_control.split(",")], name
    assert changing.status == 404 and "Access-Control-Allow-Origin" not in changing.headers


async def test_preflight_is_answered_without_the_token_the_request_still_needs_it(engine, http):
    async with running_proxy(engine.url, token=TOKEN) as proxy:
        for path in (
            f"/ace/manifest.m3u8?id={CID}",
            "/ace/segment/3.ts",
            "/playlist.m3u",
            f"/ace/getstream/{CID}.ts",
            "/api/v1/streams",
            f"/api/v1/streams/{CID}",
        ):
            resp = await answer(http, "OPTIONS", proxy.url + path, PREFLIGHT)
            assert resp.status == 204, path
            assert resp.headers["Access-Control-Allow-Origin"] == "*", path
            methods = {m.strip() for m in resp.headers["Access-Control-Allow-Methods"].split(",")}
            assert methods == {"GET", "HEAD", "OPTIONS"}, path
            assert {"range", "authorization", "x-playback-session-id"} <= allow_headers(resp)
            assert int(resp.headers["Access-Control-Max-Age"]) > 0
            assert "Access-Control-Allow-Private-Network" not in resp.headers
        # Chromium asks whether a page may reach a private address; acemux says yes.
        private = {**PREFLIGHT, "Access-Control-Request-Private-Network": "true"}
        resp = await answer(http, "OPTIONS", f"{proxy.url}/api/v1/streams", private)
        assert resp.status == 204 and resp.headers["Access-Control-Allow-Private-Network"] == "true"
        refused = await answer(http, "GET", f"{proxy.url}/api/v1/streams")
        assert refused.status == 401  # the real request without the token
        assert refused.headers["Access-Control-Allow-Origin"] == "*", "the page may read why"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        allowed = await answer(http, "GET", f"{proxy.url}/api/v1/streams", bearer)
        assert allowed.status == 200 and allowed.headers["Access-Control-Allow-Origin"] == "*"
        # An OPTIONS on a path with no GET, or on no route at all, is not a preflight.
        resp = await answer(http, "OPTIONS", f"{proxy.url}/nothing/here", PREFLIGHT)
        assert resp.status == 401
    assert engine.stats.getstream_calls == 0


async def test_restricted_origins_are_echoed_others_get_nothing(engine, http):
    origins = "https://player.example/, http://127.0.0.1:9000"
    async with running_proxy(engine.url, cors_origins=origins) as proxy:
        url = f"{proxy.url}/api/v1/streams"
        mine = await answer(http, "GET", url)
        assert mine.headers["Access-Control-Allow-Origin"] == PAGE
        assert "Origin" in mine.headers["Vary"]
        other = await answer(http, "GET", url, {"Origin": "http://127.0.0.1:9000"})
        assert other.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:9000"
        stranger = await answer(http, "GET", url, {"Origin": "https://evil.example"})
        assert stranger.status == 200
        assert "Access-Control-Allow-Origin" not in stranger.headers
        assert "Origin" in stranger.headers["Vary"]
        preflight = await answer(http, "OPTIONS", url, PREFLIGHT)
        assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == PAGE
        assert {"Origin", "Access-Control-Request-Headers"} <= {
            v.strip() for v in preflight.headers["Vary"].split(",")
        }
        refused = await answer(
            http, "OPTIONS", url, {**PREFLIGHT, "Origin": "https://evil.example"}
        )
        assert refused.status == 204
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert "Access-Control-Allow-Methods" not in refused.headers


async def test_cors_can_be_switched_off(engine, http):
    async with running_proxy(engine.url, cors_origins="") as proxy:
        resp = await answer(http, "GET", f"{proxy.url}/api/v1/streams")
        assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers
        resp = await answer(http, "OPTIONS", f"{proxy.url}/api/v1/streams", PREFLIGHT)
        assert resp.status == 405


def test_cors_origins_setting_from_flag_and_environment(monkeypatch):
    assert make_settings("http://e:1").cors_origin_list == ["*"]
    args = build_parser().parse_args(["serve", "--cors-origins", "https://A.example/,http://b:8"])
    assert _settings(args).cors_origin_list == ["https://a.example", "http://b:8"]
    monkeypatch.setenv("ACEMUX_CORS_ORIGINS", "https://c.example")
    assert _settings(build_parser().parse_args(["serve"])).cors_origin_list == ["https://c.example"]
    with pytest.raises(ValidationError, match="must be \\* or scheme://host"):
        make_settings("http://e:1", cors_origins="https://a.example/path")
