"""The engine API's shapes, as a proxy sees them over a real socket."""

from __future__ import annotations

import re

import aiohttp
import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, Faults, infohash_of

from .conftest import MakeEngine
from .helpers import OTHER_ID, getstream, start_stream

HEX32 = "[0-9a-f]{32}"


async def test_getstream_json_answers_session_urls_on_the_requested_host(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    body = await getstream(client, engine)
    assert body["error"] is None
    r = body["response"]
    infohash = infohash_of(DEMO_CONTENT_ID)
    assert r["infohash"] == infohash != DEMO_CONTENT_ID
    for kind, url in (("r", r["playback_url"]), ("stat", r["stat_url"]), ("cmd", r["command_url"])):
        assert re.fullmatch(rf"{engine.url}/ace/{kind}/{infohash}/{HEX32}", url), url
    assert re.fullmatch("[0-9a-f]{40}", r["playback_session_id"])
    assert (r["is_live"], r["is_encrypted"], r["client_session_id"]) == (1, 0, -1)

    # URLs carry the Host the request named, as an engine inside a container does.
    async with client.get(
        f"{engine.url}/ace/getstream",
        params={"format": "json", "id": OTHER_ID},
        headers={"Host": "engine-container:6878"},
    ) as resp:
        body = await resp.json()
    assert body["response"]["stat_url"].startswith("http://engine-container:6878/ace/stat/")


async def test_other_selectors_resolve_to_infohashes(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    url = "http://example.com/x.torrent"
    cases = [
        ("content_id", OTHER_ID, infohash_of(OTHER_ID)),
        ("infohash", OTHER_ID.upper(), OTHER_ID),
        ("magnet", f"magnet:?xt=urn:btih:{OTHER_ID}", OTHER_ID),
        ("url", url, infohash_of(url)),
    ]
    for name, value, infohash in cases:
        query = {"format": "json", name: value}
        async with client.get(f"{engine.url}/ace/getstream", params=query) as resp:
            assert (await resp.json())["response"]["infohash"] == infohash, name


async def test_bad_and_unknown_ids_fail_to_load(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(unknown_ids=[OTHER_ID.upper()])
    for content_id in ("not-hex", "abc", OTHER_ID):
        assert await getstream(client, engine, content_id) == {
            "response": None,
            "error": "failed to load content",
        }
    async with client.get(f"{engine.url}/ace/getstream", params={"format": "json"}) as resp:
        assert (await resp.json())["error"] == "failed to load content"
    assert (await getstream(client, engine))["error"] is None


async def test_getstream_without_format_json_redirects(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    async with client.get(
        f"{engine.url}/ace/getstream", params={"id": DEMO_CONTENT_ID}, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert re.fullmatch(rf"{engine.url}/ace/r/{infohash_of(DEMO_CONTENT_ID)}/{HEX32}", location)
    async with client.get(location) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp2t"
        assert (await resp.content.readexactly(188))[0] == 0x47


async def test_stat_reports_a_downloading_live_session(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    r = await start_stream(client, engine)
    async with client.get(r["stat_url"]) as resp:
        body = await resp.json()
    assert body["error"] is None
    stat = body["response"]
    assert stat["status"] == "dl" and stat["peers"] > 0
    assert (stat["infohash"], stat["playback_session_id"]) == (
        r["infohash"],
        r["playback_session_id"],
    )
    assert (stat["is_live"], stat["total_progress"]) == (1, 0)
    for key in ("speed_down", "speed_up", "downloaded", "uploaded"):
        assert isinstance(stat[key], int)
    assert stat["livepos"] and all(isinstance(v, str) for v in stat["livepos"].values())
    assert engine.stats.stat_calls == 1


async def test_stop_ends_the_session(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    r = await start_stream(client, engine)
    async with client.get(r["command_url"], params={"method": "stop"}) as resp:
        assert await resp.json() == {"response": "ok", "error": None}
    gone = {"response": None, "error": "unknown playback session id"}
    async with client.get(r["command_url"], params={"method": "stop"}) as resp:
        assert await resp.json() == gone
    async with client.get(r["stat_url"]) as resp:
        assert await resp.json() == gone
    async with client.get(r["playback_url"]) as resp:
        assert resp.status == 403
    assert engine.stats.stop_calls == 2
    assert engine.stats.stop_calls_by_session == {r["playback_session_id"]: 1}


async def test_a_new_getstream_makes_the_old_session_stale(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    old = await start_stream(client, engine)
    new = await start_stream(client, engine)
    assert new["playback_session_id"] != old["playback_session_id"]
    async with client.get(old["playback_url"]) as resp:
        assert resp.status == 403
    async with client.get(old["stat_url"]) as resp:
        assert (await resp.json())["error"] == "unknown playback session id"
    async with client.get(new["playback_url"]) as resp:
        assert resp.status == 200
    wrong_infohash = new["playback_url"].replace(new["infohash"], OTHER_ID)
    async with client.get(wrong_infohash) as resp:
        assert resp.status == 403
    assert engine.session_for(DEMO_CONTENT_ID).playback_session_id == new["playback_session_id"]


async def test_version_status_and_manifest(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    version = {"code": 3017000, "platform": "linux", "version": "3.1.70"}
    async with client.get(
        f"{engine.url}/webui/api/service", params={"method": "get_version"}
    ) as resp:
        assert await resp.json() == {"result": version, "error": None}
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    async with client.get(
        f"{engine.url}/server/api", params={"api_version": "3", "method": "get_status"}
    ) as resp:
        assert await resp.json() == {"result": {"playlist_loaded": True, "version": version}}
    async with client.get(f"{engine.url}/server/api", params={"method": "nope"}) as resp:
        assert (await resp.json())["error"]["message"]
    async with client.get(
        f"{engine.url}/ace/manifest.m3u8", params={"format": "json", "id": DEMO_CONTENT_ID}
    ) as resp:
        body = await resp.json()
    assert body["error"] is None and body["response"]["playback_url"].endswith(".m3u8")


async def test_faults_and_stats_over_http(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    change = {"drop_after_bytes": 1000, "unknown_ids": [OTHER_ID], "start_mode": "live", "rate": 0}
    async with client.post(f"{engine.url}/fake/faults", json=change) as resp:
        assert resp.status == 200
        assert (await resp.json())["drop_after_bytes"] == 1000
    assert engine.faults.drop_after_bytes == 1000 and engine.faults.unknown_ids == {OTHER_ID}
    assert engine.faults.start_mode == "live" and not engine.faults.rate
    for bad in (
        {"start_mode": "sideways"},
        {"no_such_fault": 1},
        {"drop_after_bytes": -1, "misalign": True},
        [1],
    ):
        async with client.post(f"{engine.url}/fake/faults", json=bad) as resp:
            assert resp.status == 400 and (await resp.json())["error"]
    assert engine.faults.misalign is False  # a rejected change leaves everything as it was
    async with client.get(f"{engine.url}/fake/faults") as resp:
        assert (await resp.json())["unknown_ids"] == [OTHER_ID]

    await start_stream(client, engine)
    async with client.get(f"{engine.url}/fake/stats") as resp:
        stats = await resp.json()
    assert stats["getstream_calls"] == 1 and stats["getstream_calls_by_id"] == {DEMO_CONTENT_ID: 1}
    assert stats["getstream_headers"][-1]["Accept-Encoding"] == "identity"


def test_faults_check_python_assignments_too() -> None:
    faults = Faults(rate=8, unknown_ids=[OTHER_ID.upper()])
    assert faults.rate == 8.0 and faults.unknown_ids == {OTHER_ID}
    with pytest.raises(ValueError):
        faults.start_mode = "sideways"
    with pytest.raises(AttributeError):
        faults.drop_after = 10  # type: ignore[attr-defined]


async def test_version_endpoint_can_be_missing_or_in_the_rc2_shape(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(version_mode="rc2")
    service = f"{engine.url}/webui/api/service"
    async with client.get(service, params={"method": "get_version"}) as resp:
        assert await resp.json() == {
            "result": {"code": 3002300, "version": "3.1.0-rc2"},
            "error": None,
        }
    engine.faults.version_mode = "missing"  # a 3.0 engine: no HTTP API at all
    for url in (service, f"{engine.url}/server/api"):
        async with client.get(url, params={"method": "get_version"}) as resp:
            assert resp.status == 404
    await start_stream(client, engine)  # streaming does not need that path


async def test_getstream_can_answer_bytes_that_are_neither_utf8_nor_json(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(getstream_garbage=True)
    params = {"format": "json", "id": DEMO_CONTENT_ID}
    async with client.get(f"{engine.url}/ace/getstream", params=params) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        raw = await resp.read()
    with pytest.raises(UnicodeDecodeError):
        raw.decode()
    assert engine.stats.getstream_calls == 1 and engine.session_for(DEMO_CONTENT_ID) is None


async def test_the_stop_owed_to_a_replaced_session_is_counted_against_it(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(getstream_seconds=0.05)
    old = await start_stream(client, engine)
    new = await start_stream(client, engine)  # same content: the old session is replaced
    for _ in range(2):
        async with client.get(old["command_url"], params={"method": "stop"}) as resp:
            assert (await resp.json())["error"] == "unknown playback session id"
    assert engine.stats.stop_calls == 2
    assert engine.stats.stop_calls_by_session == {old["playback_session_id"]: 1}
    assert engine.session_for(DEMO_CONTENT_ID).playback_session_id == new["playback_session_id"]
