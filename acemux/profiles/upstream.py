"""ProfileUpstream: a profile channel's upstream, an ffmpeg over the raw channel.

A ChannelSession whose key names a profile reads this instead of an engine:
`start` holds the raw channel (one more viewer of it, so its engine session is
shared) and starts the first ffmpeg, answering only once ffmpeg produced
output, so a missing binary or a broken recipe is the first request's 502;
`open` hands the session a process to read; a crashed or stalled ffmpeg is
then just an upstream that ended, and the session's reconnect (bounded by its
retry budget, viewers kept) opens a new one. `stop` ends the process and lets
the raw channel go (its own grace period follows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from acemux.config import Settings
from acemux.profiles.process import FfmpegProcess
from acemux.profiles.recipes import Profile
from acemux.streaming.key import ChannelKey

if TYPE_CHECKING:
    from acemux.channels.failover import SourcePlan
    from acemux.streaming.registry import ChannelRegistry
    from acemux.streaming.session import ChannelSession

log = logging.getLogger(__name__)


class ProfileUpstream:
    def __init__(
        self,
        registry: "ChannelRegistry",
        key: ChannelKey,
        profile: Profile,
        settings: Settings,
        plan: "Callable[[], SourcePlan] | None" = None,
    ) -> None:
        self._registry = registry
        self._raw_key = key.raw
        self._plan = plan  # a named channel's sources, for its raw channel
        self.profile = profile
        self._settings = settings
        self.raw: "ChannelSession | None" = None  # the channel ffmpeg reads
        self._raw_hold: AsyncExitStack | None = None
        self.process: FfmpegProcess | None = None  # the one being read
        self._ready: FfmpegProcess | None = None  # started by start(), for the first open()
        self.processes_started = 0
        self._cpu_of_ended = 0.0
        self.last_exit = ""

    async def start(self) -> None:
        """Hold the raw channel; the first time, also start ffmpeg and wait for its output."""
        await self._hold_raw()
        if self.processes_started:
            return  # a later call, before a reconnect: open() starts the next ffmpeg
        process = await self._spawn()
        try:
            await process.wait_first_output(self._settings.prebuffer_timeout)
        except BaseException:
            await process.stop()
            raise
        self._ready = process

    async def open(self) -> FfmpegProcess:
        """A running ffmpeg for the session to read (`content.read(n)`, `close()`)."""
        process, self._ready = self._ready, None
        if process is None:
            await self._end_process()
            await self._hold_raw()
            process = await self._spawn()
            log.info(
                "profile %s of %s: ffmpeg restarted (%d so far)",
                self.profile.name,
                self._raw_key.name,
                self.restarts,
            )
        self.process = process
        return process

    async def stop(self) -> None:
        await self._end_process()
        ready, self._ready = self._ready, None
        if ready is not None:
            await ready.stop()
        await self._release_raw()

    @property
    def restarts(self) -> int:
        return max(self.processes_started - 1, 0)

    def cpu_seconds(self) -> float:
        """CPU used by this profile's ffmpeg processes, the running one included."""
        running = self.process or self._ready
        return self._cpu_of_ended + (running.sample_cpu() if running else 0.0)

    def describe(self) -> dict:
        process = self.process or self._ready
        return {
            "name": self.profile.name,
            "source": self._raw_key.name,
            "pid": process.pid if process and process.returncode is None else None,
            "processes_started": self.processes_started,
            "restarts": self.restarts,
            "cpu_seconds": round(self.cpu_seconds(), 3),
            "last_exit": self.last_exit or None,
        }

    # -- inside ------------------------------------------------------------------

    async def _spawn(self) -> FfmpegProcess:
        process = await FfmpegProcess.spawn(self.profile, self._settings.ffmpeg)
        self.processes_started += 1
        assert self.raw is not None
        process.feed_from(self.raw, self._settings.client_high_water)
        return process

    async def _end_process(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        await process.stop()
        self._cpu_of_ended += process.cpu_seconds
        self.last_exit = process.exit_description()
        log.info("profile %s of %s: %s", self.profile.name, self._raw_key.name, self.last_exit)

    async def _hold_raw(self) -> None:
        """Hold the raw channel, again after it closed (its engine gave up, it was stopped)."""
        if self.raw is not None and not self.raw.closing:
            return
        await self._release_raw()
        hold = AsyncExitStack()
        self.raw = await hold.enter_async_context(
            self._registry.channel(self._raw_key, self._plan)
        )
        self._raw_hold = hold

    async def _release_raw(self) -> None:
        hold, self._raw_hold = self._raw_hold, None
        self.raw = None
        if hold is not None:
            await hold.aclose()
