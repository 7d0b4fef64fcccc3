"""SIGTERM: acemux stops every engine session, ends its viewers and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID
from tests.streamclient import free_port, read_n


async def wait_healthy(http: aiohttp.ClientSession, url: str, proc, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while proc.returncode is None:
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)  # the process is starting: nothing to await yet
    raise AssertionError("acemux exited before it was ready")


async def test_sigterm_stops_sessions_and_exits_zero(engine, http):
    port = free_port()
    env = {**os.environ, "ACEMUX_ENGINE": engine.url, "ACEMUX_GRACE_SECONDS": "30"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acemux", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(http, url, proc)
        async with http.get(f"{url}/ace/getstream?id={DEMO_CONTENT_ID}") as viewer:
            await read_n(viewer.content, 50_000)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(5):
                rest = await viewer.content.read()  # the stream ends cleanly
                code = await proc.wait()
        assert code == 0, (await proc.stderr.read()).decode()
        assert isinstance(rest, bytes)
        assert engine.stats.stop_calls == 1
        await engine.wait_for(lambda s: s.open_playback == 0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
