"""The autoscaler: keeps enough provisioned engines ready, heals them, retires idle ones.

Every `autoscale_interval` it looks at the provisioned engines and takes at
most one decision of each kind, each logged once with its reason:
- scale up while fewer than `min_engines` run, or while the free channel
  capacity (starting engines included) is below `spare_engines` engines' worth
  plus the channels that must leave draining engines, up to `max_engines`;
- heal: an engine that exited, failed its health checks for longer than
  `engine_unhealthy_seconds`, or whose every channel has been starved (0 peers
  and 0 speed, or no data) for longer than `engine_starved_seconds`, drains:
  a replacement starts (the capacity rule above), its channels move there
  through the channels' reconnect path, and once empty it is stopped;
- retire an engine idle for `engine_idle_seconds` beyond the minimum, when
  the spare capacity stays met without it.
A new engine takes channels only once it answers and passes its first health
check. Failed starts are retried with exponential backoff, never in a loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from acemux.config import EngineSpec, Settings
from acemux.engine.pool import EngineMember, EnginePool
from acemux.engine.provision.fleet import Provisioned
from acemux.engine.provision.provider import EngineHandle, PortRange, Provider
from acemux.errors import AcemuxError, ProvisionFailed
from acemux.streaming.registry import ChannelRegistry
from acemux.streaming.session import ChannelSession
from acemux.tasks import cancel_and_wait

log = logging.getLogger(__name__)

BOOT_POLL_SECONDS = 0.2  # how often a booting engine is asked whether it answers
STARVED_SILENCE_SECONDS = 2.0  # a channel without upstream data this long counts as starved
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0


class Autoscaler:
    def __init__(
        self, settings: Settings, pool: EnginePool, registry: ChannelRegistry, provider: Provider
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._registry = registry
        self.provider = provider
        self._ports = PortRange(settings.engine_ports)
        self._task: asyncio.Task | None = None
        self._launch: asyncio.Task | None = None
        self._removals: set[asyncio.Task] = set()
        self._owed_restarts: list[int] = []  # lineage counts of engines being replaced
        self.failures = 0  # failed starts in a row
        self.last_error = ""
        self.retry_at: float | None = None  # loop time of the next start attempt after a failure
        self.decisions: collections.Counter[str] = collections.Counter()

    # -- lifecycle ---------------------------------------------------------------

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="autoscaler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task, self._launch, *self._removals)
        await self.provider.close()

    @property
    def members(self) -> list[EngineMember]:
        return [m for m in self._pool.members if m.provisioned is not None]

    async def _run(self) -> None:
        try:
            await self.provider.open()
            await self._adopt()
        except ProvisionFailed as err:
            self._failed(err.message)
        while True:
            try:
                await self._tick()
            except Exception:  # a bug here must not end scaling silently
                log.exception("autoscaler step failed")
            await asyncio.sleep(self._settings.autoscale_interval)

    async def _adopt(self) -> None:
        """Take back the engines this provider still runs for acemux (Docker containers)."""
        for handle in await self.provider.list_owned():
            log.info("adopting engine %s %s on port %d", handle.provider, handle.id, handle.port)
            member = await self._join(handle, Provisioned(handle, adopted=True))
            if not await self._bring_up(member):
                log.warning("adopted engine %s did not come up; removing it", handle.id)

    # -- one look at the engines -------------------------------------------------

    async def _tick(self) -> None:
        s, now = self._settings, self._loop.time()
        await self._notice_exits()
        ready = [m for m in self.members if m.provisioned.state == "ready"]
        for member in ready:
            reason = self._heal_reason(member, now)
            if reason:
                self._drain(member, reason, replace=True)
        live = [m for m in self.members if m.provisioned.state in ("starting", "ready")]
        draining = [m for m in self.members if m.provisioned.state == "draining"]
        cpe = s.channels_per_engine
        free = sum(max(cpe - m.channels, 0) for m in live)
        need = s.spare_engines * cpe + sum(max(m.channels, 0) for m in draining)
        if len(live) < s.max_engines and (len(live) < s.min_engines or free < need):
            why = (
                f"{len(live)} engines, minimum {s.min_engines}"
                if len(live) < s.min_engines
                else f"free capacity {free} channels, below the {need} wanted"
            )
            self._start_one(why, now)
        launching = self._launch is not None and not self._launch.done()
        ready_free = sum(
            max(cpe - m.channels, 0) for m in live if m.provisioned.state == "ready"
        )
        for member in draining:
            self._move_or_remove(member, ready_free, launching)
        self._retire_idle(live, free, need, now)

    async def _notice_exits(self) -> None:
        for member in self.members:
            if member.provisioned.state not in ("ready", "draining"):
                continue
            status = await self.provider.inspect(member.provisioned.handle)
            member.provisioned.provider_restarts = status.restarts
            if not status.running and member.provisioned.state == "ready":
                self._drain(member, status.detail or "engine is gone", replace=True)

    def _heal_reason(self, member: EngineMember, now: float) -> str:
        s, p = self._settings, member.provisioned
        if member.health.up is False:
            p.unhealthy_since = now if p.unhealthy_since is None else p.unhealthy_since
            if now - p.unhealthy_since >= s.engine_unhealthy_seconds:
                return (
                    f"unhealthy for {now - p.unhealthy_since:.0f} s "
                    f"({member.health.last_error or 'no answer'})"
                )
        else:
            p.unhealthy_since = None
        channels = self._channels_on(member)
        if channels and all(_starved(ch, now) for ch in channels):
            p.starved_since = now if p.starved_since is None else p.starved_since
            if now - p.starved_since >= s.engine_starved_seconds:
                return (
                    f"every channel ({len(channels)}) starved for {now - p.starved_since:.0f} s "
                    "(0 peers and 0 speed, or no data)"
                )
        else:
            p.starved_since = None
        return ""

    def _drain(self, member: EngineMember, reason: str, replace: bool) -> None:
        p = member.provisioned
        p.drain(reason, replace)
        if replace:
            self._owed_restarts.append(p.restarts)
            self.decisions["replaced"] += 1
            log.warning("replacing engine %s (%s): %s", member.url, p.handle.id, reason)
        else:
            self.decisions["retired"] += 1
            log.info("retiring engine %s (%s): %s", member.url, p.handle.id, reason)

    def _move_or_remove(self, member: EngineMember, ready_free: int, launching: bool) -> None:
        """Empty draining engines are stopped; the others' channels move once there is room."""
        channels = self._channels_on(member)
        if not channels and member.channels <= 0:
            member.provisioned.state = "stopping"
            task = asyncio.create_task(self._remove(member), name=f"engine-stop:{member.url}")
            self._removals.add(task)
            task.add_done_callback(self._removals.discard)
        elif ready_free >= len(channels) or not launching:
            # Fresh engines first; with none coming, moving still beats staying.
            for channel in channels:
                channel.move_engine(member.provisioned.reason)

    def _retire_idle(self, live: list[EngineMember], free: int, need: int, now: float) -> None:
        s, cpe = self._settings, self._settings.channels_per_engine
        idle = []
        for member in live:
            p = member.provisioned
            if p.state != "ready" or member.channels > 0:
                p.idle_since = None
                continue
            p.idle_since = now if p.idle_since is None else p.idle_since
            if now - p.idle_since >= s.engine_idle_seconds:
                idle.append(member)
        if idle and len(live) > s.min_engines and free - cpe >= need:
            newest = max(idle, key=lambda m: m.index)
            self._drain(
                newest,
                f"idle for {now - newest.provisioned.idle_since:.0f} s beyond the minimum",
                replace=False,
            )

    def _channels_on(self, member: EngineMember) -> list[ChannelSession]:
        return [ch for ch in self._registry.sessions() if ch.member is member]

    # -- starting and stopping engines -------------------------------------------

    def _start_one(self, why: str, now: float) -> None:
        if self._launch is not None and not self._launch.done():
            return
        if self.retry_at is not None and now < self.retry_at:
            return
        log.info("starting an engine: %s", why)
        self._launch = asyncio.create_task(self._launch_one(), name="engine-start")

    async def _launch_one(self) -> None:
        restarts = self._owed_restarts.pop(0) + 1 if self._owed_restarts else 0
        in_use = {m.provisioned.handle.port for m in self.members}
        try:
            handle = await self.provider.start(self._ports.take(in_use))
        except ProvisionFailed as err:
            if restarts:
                self._owed_restarts.insert(0, restarts - 1)
            self._failed(err.message)
            return
        member = await self._join(handle, Provisioned(handle, restarts=restarts))
        if await self._bring_up(member):
            self.decisions["started"] += 1

    async def _join(self, handle: EngineHandle, provisioned: Provisioned) -> EngineMember:
        spec = EngineSpec(handle.url, self._settings.channels_per_engine)
        return await self._pool.add(spec, provisioned)

    async def _bring_up(self, member: EngineMember) -> bool:
        """Wait until the engine answers and passes its first health check; else remove it."""
        handle = member.provisioned.handle
        timeout = self._settings.engine_start_timeout
        try:
            try:
                async with asyncio.timeout(timeout):
                    await self._answers(member)
            except TimeoutError:
                raise ProvisionFailed(
                    f"engine {handle.id} on port {handle.port} did not answer within {timeout:g} s"
                ) from None
            if not await member.health.check():
                raise ProvisionFailed(f"engine {handle.id} failed its first health check")
        except ProvisionFailed as err:
            await self.provider.stop(handle)
            await self._pool.remove(member)
            self._failed(err.message)
            return False
        member.health.start()
        member.provisioned.state = "ready"
        self.failures, self.retry_at, self.last_error = 0, None, ""
        log.info("engine %s (%s %s) is ready", member.url, handle.provider, handle.id)
        return True

    async def _answers(self, member: EngineMember) -> None:
        handle = member.provisioned.handle
        while True:
            status = await self.provider.inspect(handle)
            if not status.running:
                words = await self.provider.last_words(handle)
                raise ProvisionFailed(
                    f"engine {handle.id} ended before it answered: {status.detail}"
                    + (f"; its last output: {words}" if words else "")
                )
            try:
                async with asyncio.timeout(self._settings.engine_check_timeout):
                    await member.client.version()
                return
            except (AcemuxError, TimeoutError):
                await asyncio.sleep(BOOT_POLL_SECONDS)

    async def _remove(self, member: EngineMember) -> None:
        p = member.provisioned
        await self.provider.stop(p.handle)
        await self._pool.remove(member)
        log.info("engine %s (%s) stopped and removed: %s", member.url, p.handle.id, p.reason)

    def _failed(self, message: str) -> None:
        self.failures += 1
        delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (self.failures - 1))
        self.retry_at = self._loop.time() + delay
        self.last_error = message
        self.decisions["start_failed"] += 1
        log.error(
            "could not start an engine (failure %d in a row): %s; next attempt in %.0f s",
            self.failures,
            message,
            delay,
        )

    def describe(self) -> dict:
        s = self._settings
        retry = None if self.retry_at is None else max(self.retry_at - self._loop.time(), 0.0)
        return {
            "provider": self.provider.name,
            "min_engines": s.min_engines,
            "max_engines": s.max_engines,
            "channels_per_engine": s.channels_per_engine,
            "spare_engines": s.spare_engines,
            "failures": self.failures,
            "last_error": self.last_error or None,
            "retry_in_seconds": None if retry is None else round(retry, 1),
            "decisions": dict(self.decisions),
        }


def _starved(channel: ChannelSession, now: float) -> bool:
    """0 peers and 0 speed by the engine's statistics, or no upstream data of late."""
    stats = channel.engine_stats or {}
    no_peers = stats.get("peers") == 0 and not stats.get("speed_down")
    return no_peers or now - channel.last_data_at >= STARVED_SILENCE_SECONDS
