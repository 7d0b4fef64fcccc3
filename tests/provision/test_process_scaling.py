"""The process provider with `acemux fake-engine`: scale up, play, retire, static beside it."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack

from acemux.fake_engine import FakeEngine
from acemux.web.keys import REGISTRY
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.provision.helpers import (
    IDS,
    engines_api,
    process_gone,
    provisioned,
    provisioned_proxy,
    scaler,
    settled,
    states,
)
from tests.streamclient import RecordingViewer, wait_until


@needs_ffmpeg
async def test_five_channels_end_on_three_engines_play_and_extra_engines_retire(http):
    """min 1, spare 1, 2 channels per engine: channels one after another scale the engines
    up, every channel decodes cleanly, and once all viewers leave the engines beyond the
    minimum are retired after the idle grace."""
    async with provisioned_proxy(engine_idle_seconds=1.0) as proxy, AsyncExitStack() as stack:
        await settled(proxy)
        assert len(provisioned(proxy)) == 1
        viewers = []
        for cid in IDS[:5]:
            url = f"{proxy.url}/ace/getstream?id={cid}"
            viewers.append(await stack.enter_async_context(RecordingViewer(http, url)))
            await settled(proxy)
        for viewer in viewers:
            await viewer.wait_bytes(100_000, timeout=30)

        sessions = proxy.app[REGISTRY].sessions()
        per_engine = Counter(s.member.url for s in sessions)
        assert len(per_engine) == 3 and max(per_engine.values()) == 2
        body = await engines_api(http, proxy)
        listed = body["engines"]
        assert len(listed) == 4  # three carrying channels, one spare
        assert {e["state"] for e in listed} == {"ready"}
        assert {e["provider"] for e in listed} == {"process"}
        assert sorted(e["channels"] for e in listed) == [0, 1, 2, 2]
        assert all(e["id"].isdigit() and e["age_seconds"] >= 0 for e in listed)
        assert body["provisioning"]["decisions"]["started"] == 4

        results = await asyncio.gather(
            *(decode_url(f"{proxy.url}/ace/getstream?id={cid}", 3) for cid in IDS[:5])
        )
        for code, errors in results:
            assert code == 0 and errors == "", errors

        pids = [int(e["id"]) for e in listed]
        for viewer in viewers:
            await viewer.close()
        await wait_until(lambda: len(provisioned(proxy)) == 1, timeout=30)
        await settled(proxy)
        assert scaler(proxy).decisions["retired"] == 3
        assert sum(process_gone(pid) for pid in pids) == 3


async def test_static_engines_work_beside_a_provider(http):
    """A static engine takes channels by the usual placement rule (most free capacity)."""
    async with FakeEngine(rate=4.0) as static:
        async with provisioned_proxy(engine=f"{static.url}#max=1") as proxy:
            await settled(proxy)
            listed = (await engines_api(http, proxy))["engines"]
            assert [e["provider"] for e in listed] == ["static", "process"]
            assert listed[0]["url"] == static.url and listed[0]["id"] is None
            async with AsyncExitStack() as stack:
                for cid in IDS[:3]:
                    url = f"{proxy.url}/ace/getstream?id={cid}"
                    viewer = await stack.enter_async_context(RecordingViewer(http, url))
                    await viewer.wait_bytes(20_000)
                    await settled(proxy)
                # Two provisioned engines with one free slot each: the tie goes to the
                # engine with fewer channels, the static one.
                assert static.stats.getstream_calls == 1
                on = Counter(s.member.provisioned is None for s in proxy.app[REGISTRY].sessions())
                assert on == {True: 1, False: 2}


async def test_a_booting_engine_gets_no_channel(http):
    async with provisioned_proxy(min_engines=1, spare_engines=0) as proxy:
        await wait_until(lambda: states(proxy) == ["starting"], timeout=15)
        async with http.get(f"{proxy.url}/ace/getstream?id={IDS[0]}") as resp:
            assert resp.status == 503
            assert "starting" in (await resp.json())["error"]["message"]
        await settled(proxy)
        async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={IDS[0]}") as viewer:
            await viewer.wait_bytes(20_000)


async def test_metrics_show_provisioned_engines_and_decisions(http):
    async with provisioned_proxy(min_engines=1, spare_engines=0) as proxy:
        await settled(proxy)
        member = provisioned(proxy)[0]
        async with http.get(f"{proxy.url}/metrics") as resp:
            text = await resp.text()
        labels = (
            f'engine="{member.url}",id="{member.provisioned.handle.id}",'
            'provider="process",state="ready"'
        )
        assert f"acemux_engine_provisioned{{{labels}}} 1.0" in text
        assert f'acemux_engine_restarts{{engine="{member.url}"}} 0.0' in text
        assert 'acemux_engine_decisions_total{decision="started"} 1.0' in text
        assert 'acemux_engine_decisions_total{decision="start_failed"} 0.0' in text
