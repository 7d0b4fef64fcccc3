"""/api/v1: channels with their clients, stopping a channel, dropping a client, engines."""

from __future__ import annotations

from urllib.parse import quote

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.web.keys import POOL, REGISTRY
from tests.integration.apiclient import get_json, poll_json
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer

CID = DEMO_CONTENT_ID


async def test_streams_lists_each_channel_with_its_clients(engine, proxy, http):
    assert await get_json(http, f"{proxy.url}/api/v1/streams") == {"streams": []}
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with RecordingViewer(http, url, user_agent="VLC/3.0.20") as viewer:
        await viewer.wait_bytes(100_000)
        # Bitrates need byte counts sampled a second apart.
        body = await poll_json(
            http, f"{proxy.url}/api/v1/streams", lambda b: b["streams"][0]["history"]["bitrate_in"]
        )
    [stream] = body["streams"]
    assert stream["id"] == CID and stream["key"] == CID
    assert stream["state"] == "playing"
    assert stream["engine"]["url"] == engine.url
    assert stream["engine"]["sessions"] == 1
    assert stream["engine_stats"] is None
    assert stream["bytes_in"] >= 100_000 and stream["bytes_out"] >= 100_000
    assert stream["bitrate_in"] > 0 and stream["bitrate_out"] > 0
    assert stream["reconnects"] == 0
    assert stream["uptime_seconds"] > 0
    assert 0 <= stream["time_to_first_byte_seconds"] < stream["uptime_seconds"]
    assert all(rate > 0 for rate in stream["history"]["bitrate_in"])
    [client] = stream["clients"]
    assert client["address"] == "127.0.0.1"
    assert client["user_agent"] == "VLC/3.0.20"
    assert client["bytes_sent"] >= 100_000
    assert client["connected_seconds"] > 0
    assert isinstance(client["lag_bytes"], int) and client["lag_bytes"] >= 0


async def test_one_stream_by_id_or_infohash(engine, proxy, http):
    async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}") as viewer:
        await viewer.wait_bytes(10_000)
        by_id = await get_json(http, f"{proxy.url}/api/v1/streams/{CID}")
        infohash = by_id["engine"]["infohash"]
        by_infohash = await get_json(http, f"{proxy.url}/api/v1/streams/{infohash}")
    assert by_id["key"] == by_infohash["key"] == CID
    assert len(by_id["clients"]) == 1


async def test_a_channel_with_extra_parameters_is_named_by_its_full_key(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={CID}&transcode_audio=1"
    async with RecordingViewer(http, url) as viewer:
        await viewer.wait_bytes(10_000)
        [stream] = (await get_json(http, f"{proxy.url}/api/v1/streams"))["streams"]
        assert stream["key"] == f"{CID}?transcode_audio=1"
        by_key = f"{proxy.url}/api/v1/streams/{quote(stream['key'], safe='')}"
        async with http.delete(by_key) as resp:
            assert resp.status == 200
        await viewer.wait_ended()


async def test_unknown_stream_is_a_json_404(proxy, http):
    body = await get_json(http, f"{proxy.url}/api/v1/streams/{'c' * 40}", status=404)
    assert body["error"]["code"] == "not_found"
    async with http.delete(f"{proxy.url}/api/v1/streams/{'c' * 40}") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_delete_stream_stops_the_channel_and_its_engine_session(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with RecordingViewer(http, url) as first, RecordingViewer(http, url) as second:
        await first.wait_bytes(50_000)
        await second.wait_bytes(50_000)
        async with http.delete(f"{proxy.url}/api/v1/streams/{CID}") as resp:
            assert resp.status == 200
            assert await resp.json() == {"stopped": CID, "key": CID}
        await first.wait_ended()
        await second.wait_ended()
    assert len(proxy.app[REGISTRY]) == 0
    assert engine.stats.stop_calls == 1
    assert await get_json(http, f"{proxy.url}/api/v1/streams") == {"streams": []}


async def test_delete_client_drops_only_that_client(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with RecordingViewer(http, url) as leaving, RecordingViewer(http, url) as staying:
        await leaving.wait_bytes(50_000)
        await staying.wait_bytes(50_000)
        stream = await get_json(http, f"{proxy.url}/api/v1/streams/{CID}")
        ids = sorted(c["id"] for c in stream["clients"])
        assert len(ids) == 2
        async with http.delete(f"{proxy.url}/api/v1/streams/{CID}/clients/{ids[0]}") as resp:
            assert resp.status == 200
            assert await resp.json() == {"dropped": ids[0], "stream": CID}
        await leaving.wait_ended()
        await staying.wait_more(100_000)
        stream = await get_json(http, f"{proxy.url}/api/v1/streams/{CID}")
        assert [c["id"] for c in stream["clients"]] == [ids[1]]
        for bad, status in (("999999", 404), ("nope", 400)):
            async with http.delete(f"{proxy.url}/api/v1/streams/{CID}/clients/{bad}") as resp:
                assert resp.status == status
                assert "error" in await resp.json()
    assert engine.stats.playback_connections == 1


async def test_engines_and_readiness_follow_the_engine_health(http):
    engine = FakeEngine(rate=4.0)
    await engine.start()
    try:
        async with running_proxy(engine.url, engine_check_interval=0.1) as proxy:
            [member] = proxy.app[POOL].members
            health = member.health
            if health.up is None:
                await health.next_check()
            body = await get_json(http, f"{proxy.url}/readyz")
            assert body["status"] == "ready"
            [described] = (await get_json(http, f"{proxy.url}/api/v1/engines"))["engines"]
            assert described["url"] == engine.url
            assert described["up"] is True and described["version"] == "3.1.70"
            assert described["last_check_at"] > 0
            assert described["breaker"] == "closed"
            assert described["channels"] == 0 and described["max_channels"] is None

            await engine.stop()
            while health.up:
                await health.next_check()
            body = await get_json(http, f"{proxy.url}/readyz", status=503)
            assert body["error"]["code"] == "engine_unavailable"
            [described] = (await get_json(http, f"{proxy.url}/api/v1/engines"))["engines"]
            assert described["up"] is False and described["last_error"]
            # The process itself is still alive.
            assert (await get_json(http, f"{proxy.url}/healthz"))["status"] == "ok"
    finally:
        await engine.stop()


async def test_reconnect_is_refused_while_no_upstream_is_open(engine, proxy, http):
    engine.faults.prebuffer_seconds = 60  # the engine withholds the stream: no upstream yet
    reconnect = f"{proxy.url}/api/v1/streams/{CID}/reconnect"
    async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}"):
        async with http.post(reconnect) as resp:
            assert resp.status == 409
            error = (await resp.json())["error"]
    assert error["code"] == "conflict"
    assert "no upstream connection open (state: prebuffering)" in error["message"]
    assert engine.stats.playback_connections == 1, "no reconnect was armed"


async def test_reconnect_of_a_playing_stream_is_accepted_and_happens(engine, proxy, http):
    reconnect = f"{proxy.url}/api/v1/streams/{CID}/reconnect"
    async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}") as viewer:
        await viewer.wait_bytes(50_000)
        async with http.post(reconnect) as resp:
            assert resp.status == 202
            assert await resp.json() == {"reconnecting": CID}
        await engine.stats.wait_for(lambda s: s.playback_connections == 2, timeout=15)
