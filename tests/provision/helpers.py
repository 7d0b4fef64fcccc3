"""Running acemux with the process provider: the fake engine as the engine command."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import AsyncIterator, Awaitable, Callable

import aiohttp

from acemux.config import Settings
from acemux.web.app import AcemuxServer
from acemux.web.keys import AUTOSCALER, POOL
from tests.streamclient import RecordingViewer, wait_until

# Below Linux's ephemeral range, so no test's port-0 socket lands in it.
TEST_PORTS = "20000-29999"
FAKE_ENGINE_COMMAND = f"{sys.executable} -m acemux fake-engine --port {{port}} --log-level WARNING"
IDS = [f"{n:040x}" for n in range(0x100, 0x110)]


def provisioned_settings(**overrides) -> Settings:
    values = dict(
        host="127.0.0.1",
        port=0,
        grace_seconds=0.3,
        provider="process",
        engine_command=FAKE_ENGINE_COMMAND,
        engine_ports=TEST_PORTS,
        min_engines=1,
        spare_engines=1,
        channels_per_engine=2,
        max_engines=6,
        engine_idle_seconds=60,
        autoscale_interval=0.2,
        engine_check_interval=0.3,
        engine_check_timeout=1.0,
        stat_interval=0.3,
    )
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def provisioned_proxy(**overrides) -> AsyncIterator[AcemuxServer]:
    async with AcemuxServer(provisioned_settings(**overrides)) as server:
        yield server


def provisioned(proxy: AcemuxServer) -> list:
    return [m for m in proxy.app[POOL].members if m.provisioned is not None]


def states(proxy: AcemuxServer) -> list[str]:
    return [m.provisioned.state for m in provisioned(proxy)]


async def settled(proxy: AcemuxServer, timeout: float = 30.0) -> None:
    """Wait until the autoscaler has nothing left to do: no engine booting or leaving,
    the minimum running and the spare capacity free on ready engines."""
    s = proxy.settings

    def done() -> bool:
        members = provisioned(proxy)
        ready = [m for m in members if m.provisioned.state == "ready"]
        free = sum(s.channels_per_engine - m.channels for m in ready)
        return (
            len(ready) == len(members)
            and len(ready) >= s.min_engines
            and (free >= s.spare_engines * s.channels_per_engine or len(ready) >= s.max_engines)
        )

    await wait_until(done, timeout=timeout, interval=0.05)


async def engines_api(http: aiohttp.ClientSession, proxy: AcemuxServer) -> dict:
    async with http.get(f"{proxy.url}/api/v1/engines") as resp:
        assert resp.status == 200
        return await resp.json()


async def set_faults(http: aiohttp.ClientSession, engine_url: str, **faults) -> None:
    async with http.post(f"{engine_url}/fake/faults", json=faults) as resp:
        assert resp.status == 200, await resp.text()


def process_gone(pid: int) -> bool:
    """Ended (a zombie not yet reaped by whoever inherited it counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def scaler(proxy: AcemuxServer):
    return proxy.app[AUTOSCALER]


async def kill_and_time_the_move(
    viewer: RecordingViewer,
    kill: Callable[[], Awaitable[None]],
    moved: Callable[[], bool],
    timeout: float,
) -> None:
    """Kill an engine under a reading viewer; print when its channel moved and the viewer's gaps."""
    viewer.reset_gaps()
    killed_at = time.monotonic()
    await kill()
    await wait_until(moved, timeout=timeout)
    moved_after = time.monotonic() - killed_at
    await viewer.wait_more(200_000, timeout=timeout)
    print(
        f"engine killed: channel moved after {moved_after:.2f} s, longest media gap "
        f"{viewer.max_media_gap:.2f} s, of any bytes {viewer.max_gap:.2f} s"
    )
