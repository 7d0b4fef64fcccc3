"""EngineHealth: is an engine answering? A periodic `version()` call.

An engine is alive when it answers HTTP at all, whatever the status or body:
3.0 engines have no version endpoint and a proxy in front may not forward it.
The version is shown when the engine tells it, unknown (null) otherwise.

An engine counts as down after `fall` failed checks in a row and as up again
after `rise` good ones, so one lost answer does not move channels around. The
pool, /readyz, the dashboard and the metrics read it.

An engine whose stream delivered data since the last check is up: that check
asks nothing (`by` "stream"). A frozen engine stops streaming too, so its
next check asks it again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from acemux.engine.api import EngineClient
from acemux.errors import AcemuxError
from acemux.tasks import cancel_and_wait
from acemux.wakeups import piggyback

log = logging.getLogger(__name__)


class EngineHealth:
    def __init__(
        self, engine: EngineClient, interval: float, timeout: float, fall: int = 1, rise: int = 1
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.timeout = timeout
        self.fall, self.rise = fall, rise
        self._streak = 0  # checks in a row that disagree with `up`
        self.up: bool | None = None  # None until the first check has finished
        self.version: str | None = None  # as of the last answer; None: it does not say
        self.platform: str | None = None
        self.last_error = ""
        self.last_check_at: float | None = None  # wall-clock time of the last check
        self.latency: float | None = None  # seconds the last successful check took
        self.checks = 0
        self.by: str | None = None  # how the last check knew: "api" (asked) or "stream"
        self._checked = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="engine-health")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            await self.check()
            await piggyback().sleep(self.interval)

    async def check(self) -> bool:
        """Ask the engine for its version once; record and return whether it answered.

        Without asking when it streamed data since the last check and is up.
        """
        if self.engine.streamed_since_last_look() and self.up:
            self.by = "stream"
            self._record(True)
            return True
        self.by = "api"
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                result = await self.engine.version()
        except TimeoutError:
            self._record(False, error=f"no answer within {self.timeout:g} s")
        except AcemuxError as err:
            self._record(False, error=err.message)
        else:
            self.latency = time.monotonic() - started
            self.version, self.platform = result.version, result.platform
            self._record(True, version=result.version or "unknown")
        return bool(self.up)

    def _record(self, up: bool, version: str = "", error: str = "") -> None:
        self._streak = self._streak + 1 if up != self.up else 0
        if self.up is None or self._streak >= (self.rise if up else self.fall):
            if up:
                log.info("engine %s is up (version %s)", self.engine.base_url, version)
            else:
                log.warning("engine %s is down: %s", self.engine.base_url, error)
            self.up = up
            self._streak = 0
        self.last_error = error
        self.last_check_at = time.time()
        self.checks += 1
        # Wake everyone waiting for a check, then arm a fresh event for the next one.
        self._checked.set()
        self._checked = asyncio.Event()

    async def next_check(self) -> None:
        """Wait until the next check has finished (for callers that need a fresh answer)."""
        await self._checked.wait()

    def describe(self) -> dict:
        return {
            "url": self.engine.base_url,
            "up": self.up,
            "version": self.version,
            "platform": self.platform,
            "last_error": self.last_error or None,
            "last_check_at": self.last_check_at,
            "latency_seconds": self.latency,
            "checks": self.checks,
            "checked_by": self.by,
            "breaker": self.engine.breaker.state,  # closed, open or half_open
        }
