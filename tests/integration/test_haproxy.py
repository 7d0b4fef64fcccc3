"""Scale-out: two acemux instances behind real HAProxy with deploy/haproxy.cfg."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest

from acemux.fake_engine import FakeEngine
from acemux.web.app import AcemuxServer
from acemux.web.keys import REGISTRY
from tests.integration.conftest import make_settings
from tests.streamclient import RecordingViewer, free_port

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")

CONFIG = Path(__file__).parents[2] / "deploy" / "haproxy.cfg"
IDS = [f"{n:040x}" for n in range(1, 13)]


@contextlib.asynccontextmanager
async def haproxy(backends: list[int]) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "ACEMUX_LISTEN": f"127.0.0.1:{port}",
        "ACEMUX_BACKEND_1": f"127.0.0.1:{backends[0]}",
        "ACEMUX_BACKEND_2": f"127.0.0.1:{backends[1]}",
    }
    proc = await asyncio.create_subprocess_exec(
        "haproxy", "-db", "-f", str(CONFIG), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(10):
            while True:  # until HAProxy listens and has checked both instances
                try:
                    async with http.get(f"{url}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert proc.returncode is None, (await proc.stderr.read()).decode()
                await asyncio.sleep(0.05)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


def channels_of(server: AcemuxServer) -> set[str]:
    return {s.key.value for s in server.app[REGISTRY].sessions()}


async def test_channels_stick_to_one_instance_spread_out_and_fail_over(http):
    async with FakeEngine(rate=4.0) as engine:
        settings = dict(grace_seconds=0.2)
        async with AcemuxServer(make_settings(engine.url, **settings)) as one, AcemuxServer(
            make_settings(engine.url, **settings)
        ) as two:
            async with haproxy([one.port, two.port]) as front:
                # Every spelling of one channel lands on the same instance.
                cid = IDS[0]
                urls = [
                    f"{front}/ace/getstream?id={cid}",
                    f"{front}/ace/getstream/{cid}",
                    f"{front}/ace/getstream/{cid}.ts",
                    f"{front}/ace/getstream?id={cid.upper()}",
                ]
                async with contextlib.AsyncExitStack() as stack:
                    viewers = [
                        await stack.enter_async_context(RecordingViewer(http, u)) for u in urls
                    ]
                    for viewer in viewers:
                        await viewer.wait_bytes(50_000)
                    holders = [s for s in (one, two) if cid in channels_of(s)]
                    assert len(holders) == 1
                    assert len(holders[0].app[REGISTRY].find(cid).viewers) == 4
                    assert engine.stats.getstream_calls_by_id[cid] == 1
                    assert engine.stats.playback_connections == 1

                # Channels spread over both instances; the .ts path form of each
                # lands with its query form.
                async with contextlib.AsyncExitStack() as stack:
                    for other in IDS[1:]:
                        for url in (f"?id={other}", f"/{other}.ts"):
                            viewer = RecordingViewer(http, f"{front}/ace/getstream{url}")
                            await stack.enter_async_context(viewer)
                    assert channels_of(one) and channels_of(two)
                    assert channels_of(one).isdisjoint(channels_of(two))

                # The instance holding a channel stops: the viewer comes back through
                # HAProxy and the other instance serves it.
                holder, survivor = (one, two) if cid in channels_of(one) else (two, one)
                async with RecordingViewer(http, f"{front}/ace/getstream?id={cid}") as viewer:
                    await viewer.wait_bytes(20_000)
                    await holder.stop()
                    await viewer.wait_ended()
                async with asyncio.timeout(10):
                    while True:  # until HAProxy has marked the stopped instance down
                        try:
                            async with RecordingViewer(
                                http, f"{front}/ace/getstream?id={cid}"
                            ) as again:
                                await again.wait_bytes(20_000)
                                break
                        except (AssertionError, aiohttp.ClientError):
                            await asyncio.sleep(0.2)
                assert cid in channels_of(survivor)
