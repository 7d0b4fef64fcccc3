"""acemux restarted with the process provider: its engines end with it (even when it is
killed outright), so the new acemux has nothing to adopt and starts its own, none doubled."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp

from tests.provision.helpers import FAKE_ENGINE_COMMAND, TEST_PORTS, process_gone
from tests.streamclient import free_port, wait_until


async def _start_acemux(port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acemux", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--provider", "process", "--engine-command", FAKE_ENGINE_COMMAND,
        "--engine-ports", TEST_PORTS, "--min-engines", "2", "--spare-engines", "0",
        "--autoscale-interval", "0.2", "--engine-check-interval", "0.3", "--log-level", "WARNING",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _ready_engine_pids(http: aiohttp.ClientSession, port: int, count: int) -> list[int]:
    """Poll the API of acemux in another process until `count` engines are ready."""
    async with asyncio.timeout(40):
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/api/v1/engines") as resp:
                    engines = (await resp.json())["engines"]
            except aiohttp.ClientConnectionError:
                engines = []  # not listening yet
            if len(engines) >= count and all(e["state"] == "ready" for e in engines):
                assert len(engines) == count, engines
                return [int(e["id"]) for e in engines]
            await asyncio.sleep(0.2)


async def _end(proc: asyncio.subprocess.Process, sig: int) -> None:
    if proc.returncode is None:
        proc.send_signal(sig)
        await proc.wait()


async def test_engines_end_with_a_killed_acemux_and_a_restart_starts_fresh_ones(http):
    port = free_port()
    first = await _start_acemux(port)
    try:
        old = await _ready_engine_pids(http, port, 2)
        await _end(first, signal.SIGKILL)  # no chance to clean up: the kernel ends them
        await wait_until(lambda: all(process_gone(pid) for pid in old), timeout=15)
    finally:
        await _end(first, signal.SIGKILL)
    second = await _start_acemux(port)
    try:
        new = await _ready_engine_pids(http, port, 2)
        assert not set(new) & set(old)
        await _end(second, signal.SIGTERM)  # a clean shutdown stops them too
        assert second.returncode == 0
        assert all(process_gone(pid) for pid in new)
    finally:
        await _end(second, signal.SIGKILL)
