"""Rapid channel switching: many short viewers across channels leave nothing behind."""

from __future__ import annotations

import asyncio
import os
import random

import aiohttp

from acemux.fake_engine import FakeEngine
from acemux.web.keys import REGISTRY
from tests.integration.conftest import running_proxy
from tests.streamclient import wait_until

CYCLES, CHANNELS, CONCURRENCY = 200, 10, 8


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def channel_tasks() -> list[str]:
    names = [task.get_name() for task in asyncio.all_tasks()]
    return [n for n in names if n.startswith(("reader:", "heartbeat:", "close:"))]


async def zap(http: aiohttp.ClientSession, url: str, style: int) -> None:
    """One viewer: reads a little, leaves before the first byte, or gives up mid-request."""
    if style == 0:
        try:
            async with asyncio.timeout(0.01):  # gone while acemux asks the engine
                async with http.get(url) as resp:
                    await resp.content.read(1)
        except TimeoutError:
            pass
        return
    async with http.get(url) as resp:
        assert resp.status == 200
        if style == 1:
            return  # left while the engine prebuffers: headers only
        await resp.content.readexactly(20_000)


async def test_zapping_soak_leaves_no_sessions_tasks_or_sockets(http):
    rng = random.Random(7)
    async with FakeEngine(rate=8.0, prebuffer_seconds=0.05) as engine:
        async with running_proxy(engine.url, grace_seconds=0.05) as proxy:
            registry = proxy.app[REGISTRY]
            ids = [f"{n:040x}" for n in range(1, CHANNELS + 1)]
            # Warm up once so lazily created pools and tasks are in the baseline.
            await zap(http, f"{proxy.url}/ace/getstream?id={ids[0]}", 2)
            await engine.wait_for(lambda s: s.open_playback == 0, timeout=5)
            await wait_until(lambda: len(registry) == 0)
            tasks, fds, rss = len(asyncio.all_tasks()), open_fds(), rss_bytes()

            limit = asyncio.Semaphore(CONCURRENCY)

            async def cycle(n: int) -> None:
                async with limit:
                    url = f"{proxy.url}/ace/getstream?id={rng.choice(ids)}"
                    await asyncio.wait_for(zap(http, url, n % 3), timeout=10)

            await asyncio.gather(*(cycle(n) for n in range(CYCLES)))

            await engine.wait_for(lambda s: s.open_playback == 0, timeout=10)
            await wait_until(lambda: len(registry) == 0, timeout=5)
            # What may stay: idle keep-alive API connections from acemux to the
            # engine (both ends live in this process), at most the pool's size.
            pool = proxy.settings.engine_pool_limit
            await wait_until(lambda: not channel_tasks(), timeout=5)
            await wait_until(lambda: len(asyncio.all_tasks()) <= tasks + pool, timeout=5)
            await wait_until(lambda: open_fds() <= fds + 2 * pool, timeout=5)
            assert rss_bytes() - rss < 64 * 1024 * 1024
            stats = engine.stats
            assert stats.getstream_calls > CHANNELS
            stops = stats.stop_calls_by_session
            # A stop may still be on its way to the engine when the last task ends.
            await wait_until(lambda: len(stops) >= stats.getstream_calls, timeout=5)
            assert len(stops) == stats.getstream_calls, "every engine session is stopped"
            assert set(stops.values()) == {1}, "and stopped exactly once"
