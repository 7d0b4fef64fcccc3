"""Healing with the process provider: a killed, a starved and a frozen engine are replaced,
their channels moving to a fresh engine while the viewers keep reading."""

from __future__ import annotations

import asyncio
import os
import signal

from acemux.web.keys import REGISTRY
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.provision.helpers import (
    IDS,
    engines_api,
    kill_and_time_the_move,
    process_gone,
    provisioned,
    provisioned_proxy,
    scaler,
    set_faults,
    settled,
)
from tests.streamclient import RecordingViewer, wait_until


def _engine_of(proxy, cid: str):
    return proxy.app[REGISTRY].find(cid).member


@needs_ffmpeg
async def test_killed_engine_its_channels_move_with_viewers_reading(http):
    async with provisioned_proxy() as proxy:
        await settled(proxy)
        urls = [f"{proxy.url}/ace/getstream?id={cid}" for cid in IDS[:2]]
        async with RecordingViewer(http, urls[0]) as first:
            await first.wait_bytes(50_000)
            await settled(proxy)
            doomed = _engine_of(proxy, IDS[0])
            # The second channel lands on the spare, which then is replaced in turn.
            async with RecordingViewer(http, urls[1]) as second:
                await second.wait_bytes(50_000)
                decoding = asyncio.create_task(decode_url(urls[0], 8, timeout=45))
                await first.wait_more(100_000)
                pid = int(doomed.provisioned.handle.id)

                async def kill() -> None:
                    os.kill(pid, signal.SIGKILL)

                moved = lambda: _engine_of(proxy, IDS[0]) is not doomed  # noqa: E731
                await kill_and_time_the_move(first, kill, moved, timeout=20)
                code, errors = await decoding
                assert code == 0, errors  # ffmpeg played on through the move
                assert not first.gone and not second.gone
                await wait_until(lambda: doomed not in provisioned(proxy), timeout=20)
                await settled(proxy)
                body = await engines_api(http, proxy)
                assert str(pid) not in [e["id"] for e in body["engines"]]
                assert body["provisioning"]["decisions"]["replaced"] == 1
                assert any(e["restarts"] == 1 for e in body["engines"])
    assert process_gone(pid)


@needs_ffmpeg
async def test_starved_engine_is_replaced_and_its_channel_moves(http):
    async with provisioned_proxy(engine_starved_seconds=1.0) as proxy:
        await settled(proxy)
        url = f"{proxy.url}/ace/getstream?id={IDS[0]}"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(50_000)
            await settled(proxy)
            starved = _engine_of(proxy, IDS[0])
            decoding = asyncio.create_task(decode_url(url, 8, timeout=45))
            await viewer.wait_more(100_000)
            await set_faults(http, starved.url, starved=True)
            await wait_until(lambda: starved.provisioned.state != "ready", timeout=20)
            assert "starved" in starved.provisioned.reason
            await wait_until(lambda: _engine_of(proxy, IDS[0]) is not starved, timeout=20)
            before = len(viewer.data)
            await viewer.wait_bytes(before + 200_000, timeout=20)
            assert not viewer.gone
            await wait_until(lambda: starved not in provisioned(proxy), timeout=20)
            assert process_gone(int(starved.provisioned.handle.id))
            assert scaler(proxy).decisions["replaced"] == 1
            code, errors = await decoding
            assert code == 0, errors  # ffmpeg played on through the silence and the move


async def test_frozen_engine_failing_health_checks_is_replaced(http):
    async with provisioned_proxy(
        engine_unhealthy_seconds=1.0, engine_check_fall=1, engine_check_timeout=0.5
    ) as proxy:
        await settled(proxy)
        url = f"{proxy.url}/ace/getstream?id={IDS[0]}"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(50_000)
            await settled(proxy)
            frozen = _engine_of(proxy, IDS[0])
            pid = int(frozen.provisioned.handle.id)
            os.kill(pid, signal.SIGSTOP)
            try:
                await wait_until(lambda: frozen.provisioned.state != "ready", timeout=20)
                assert "unhealthy" in frozen.provisioned.reason
                await wait_until(lambda: _engine_of(proxy, IDS[0]) is not frozen, timeout=20)
                await viewer.wait_more(200_000, timeout=20)
                assert not viewer.gone
                await wait_until(lambda: frozen not in provisioned(proxy), timeout=20)
            finally:
                if not process_gone(pid):
                    os.kill(pid, signal.SIGCONT)
            assert process_gone(pid)
