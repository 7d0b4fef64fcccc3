"""Several engines: capacity-aware placement, failover mid-stream, recovery, refusal."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from aiohttp import web

from acemux.fake_engine import FakeEngine
from acemux.web.keys import POOL, REGISTRY
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, free_port

IDS = [f"{n:040x}" for n in range(1, 9)]


async def test_channels_go_where_there_is_most_free_capacity(http):
    async with FakeEngine(rate=4.0) as small, FakeEngine(rate=4.0) as big:
        engines = f"{small.url}#max=1,{big.url}#max=3"
        async with running_proxy(engines) as proxy, AsyncExitStack() as viewers:
            for cid in IDS[:4]:
                viewer = RecordingViewer(http, f"{proxy.url}/ace/getstream?id={cid}")
                await viewers.enter_async_context(viewer)
            assert big.stats.getstream_calls == 3 and small.stats.getstream_calls == 1
            async with http.get(f"{proxy.url}/ace/getstream?id={IDS[4]}") as resp:
                assert resp.status == 503
                body = await resp.json()
                assert body["error"]["code"] == "limit_reached"
                assert small.url in body["error"]["message"] and "full" in body["error"]["message"]
                assert "Retry-After" in resp.headers
            async with http.get(f"{proxy.url}/api/v1/engines") as resp:
                described = (await resp.json())["engines"]
            assert [(e["url"], e["channels"], e["max_channels"]) for e in described] == [
                (small.url, 1, 1),
                (big.url, 3, 3),
            ]


async def test_uncapped_engines_share_channels_in_turn(http):
    async with FakeEngine(rate=4.0) as first, FakeEngine(rate=4.0) as second:
        async with running_proxy(f"{first.url},{second.url}") as proxy, AsyncExitStack() as stack:
            for cid in IDS[:4]:
                viewer = RecordingViewer(http, f"{proxy.url}/ace/getstream?id={cid}")
                await stack.enter_async_context(viewer)
            assert first.stats.getstream_calls == 2 and second.stats.getstream_calls == 2


@needs_ffmpeg
async def test_engine_killed_mid_stream_viewers_move_to_another(http):
    async with FakeEngine(rate=1.0) as doomed, FakeEngine(rate=1.0) as spare:
        engines = f"{doomed.url},{spare.url}"
        async with running_proxy(engines, engine_check_interval=0.2) as proxy:
            url = f"{proxy.url}/ace/getstream?id={IDS[0]}"
            async with RecordingViewer(http, url) as viewer:
                decoding = asyncio.create_task(decode_url(url, 6))
                await viewer.wait_bytes(200_000)
                assert doomed.stats.open_playback == 1
                await doomed.stop()
                await spare.wait_for(lambda s: s.open_playback == 1, timeout=10)
                viewer.reset_gaps()
                await viewer.wait_more(100_000)
                code, errors = await decoding
            assert code == 0, errors  # ffmpeg played on through the move
            assert viewer.error is None and not viewer.ended
            assert viewer.max_gap < 1.0
            session = proxy.app[REGISTRY].find(IDS[0])
            assert session.member.url == spare.url
            assert [m.channels for m in proxy.app[POOL].members] == [0, 1]


async def test_restarted_engine_is_taken_back_into_use(http):
    port = free_port()
    async with FakeEngine(port=port, rate=4.0) as flaky, FakeEngine(rate=4.0) as steady:
        settings = dict(engine_check_interval=0.1, engine_check_fall=1)
        async with running_proxy(f"{flaky.url},{steady.url}", **settings) as proxy:
            flaky_member = proxy.app[POOL].members[0]
            await flaky.stop()
            while flaky_member.health.up is not False:
                await flaky_member.health.next_check()
            async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={IDS[0]}"):
                assert steady.stats.getstream_calls == 1  # the down engine gets nothing
            await flaky.start()
            while not flaky_member.health.up:
                await flaky_member.health.next_check()
            async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={IDS[1]}") as viewer:
                await viewer.wait_bytes(20_000)
            assert flaky.stats.getstream_calls == 1


async def test_engine_statistics_are_polled_into_the_status_api(engine, http):
    async with running_proxy(engine.url, stat_interval=0.1) as proxy:
        url = f"{proxy.url}/ace/getstream?id={IDS[0]}"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(50_000)
            await engine.wait_for(lambda s: s.stat_calls >= 1)
            async with http.get(f"{proxy.url}/api/v1/streams/{IDS[0]}") as resp:
                stats = (await resp.json())["engine_stats"]
            assert stats["status"] == "dl" and stats["peers"] > 0
            assert stats["downloaded"] >= 0 and "speed_down" in stats


async def test_a_playback_url_on_another_host_is_refused(http):
    """An engine that points acemux elsewhere gets a 502; nothing else is contacted."""

    async def getstream(request: web.Request) -> web.Response:
        base = "http://evil.example.com:6878"  # never contacted: refused on sight
        return web.json_response(
            {
                "response": {
                    "playback_url": f"{base}/ace/r/{'a' * 40}/{'b' * 32}",
                    "stat_url": f"{base}/ace/stat/{'a' * 40}/{'b' * 32}",
                    "command_url": f"{base}/ace/cmd/{'a' * 40}/{'b' * 32}",
                    "infohash": "a" * 40,
                    "playback_session_id": "c" * 40,
                },
                "error": None,
            }
        )

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"result": {"version": "3.1.70"}, "error": None})

    app = web.Application()
    app.router.add_get("/ace/getstream", getstream)
    app.router.add_get("/webui/api/service", version)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        hostile = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with running_proxy(hostile) as proxy:
            async with http.get(f"{proxy.url}/ace/getstream?id={IDS[0]}") as resp:
                assert resp.status == 502
                message = (await resp.json())["error"]["message"]
        assert "evil.example.com" in message and "not following" in message
    finally:
        await runner.cleanup()
