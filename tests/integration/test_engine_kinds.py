"""Engines unlike the usual fake: no version endpoint, older version shapes, all marked down."""

from __future__ import annotations

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.web.keys import POOL
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, free_port

PATH = f"/ace/getstream?id={DEMO_CONTENT_ID}"


async def engines_described(http, proxy) -> list[dict]:
    async with http.get(f"{proxy.url}/api/v1/engines") as resp:
        return (await resp.json())["engines"]


@pytest.mark.parametrize(
    "mode, version, platform",
    [("missing", None, None), ("rc2", "3.1.0-rc2", None), ("current", "3.1.70", "linux")],
)
async def test_an_engine_is_alive_when_it_answers_http_at_all(http, mode, version, platform):
    async with FakeEngine(rate=4.0, version_mode=mode) as engine:
        async with running_proxy(engine.url, engine_check_fall=1) as proxy:
            [member] = proxy.app[POOL].members
            await member.health.next_check()
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                await viewer.wait_bytes(50_000)
            [described] = await engines_described(http, proxy)
    assert described["up"] is True and described["healthy"] is True
    assert (described["version"], described["platform"]) == (version, platform)
    assert engine.stats.getstream_calls == 1


async def test_with_every_engine_marked_down_a_new_channel_is_still_tried(http):
    port = free_port()
    # One check at start (which fails: nothing listens yet), then none for a minute.
    settings = dict(engine_check_fall=1, engine_check_interval=60)
    async with running_proxy(f"http://127.0.0.1:{port}", **settings) as proxy:
        [member] = proxy.app[POOL].members
        while member.health.up is not False:
            await member.health.next_check()
        async with FakeEngine(port=port, rate=4.0) as engine:
            assert member.health.up is False  # still marked down: no check since
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                await viewer.wait_bytes(50_000)
            assert engine.stats.getstream_calls == 1


async def test_with_every_engine_down_for_real_the_503_says_why(http):
    dead = f"http://127.0.0.1:{free_port()}"
    settings = dict(engine_check_fall=1, engine_check_interval=60)
    async with running_proxy(dead, **settings) as proxy:
        [member] = proxy.app[POOL].members
        while member.health.up is not False:
            await member.health.next_check()
        async with http.get(proxy.url + PATH) as resp:
            assert resp.status == 503
            message = (await resp.json())["error"]["message"]
    assert message.startswith(f"every engine is marked down ({dead} down:")
    assert f"tried {dead} anyway: engine unreachable" in message
