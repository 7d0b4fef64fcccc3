"""EnginePool: the configured engines, their health and load, and which one takes a channel.

A new channel goes to the healthy engine with the most free capacity (an
engine without a cap counts as having the most), ties going to the one with
fewer channels and then to the one configured first. A channel keeps its
engine until that engine fails it; its reconnect path then asks for another.
When every engine is marked down, a new channel is still tried on the best
one whose breaker lets a request through (as nginx and HAProxy try an
upstream when all are down): health checks can be wrong, a getstream is the
real test. Only when that fails too does the viewer get a 503 saying why.
Engines started by a provider (engine/provision/) join and leave at run time;
only those in state "ready" take channels.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acemux.config import EngineSpec, Settings
from acemux.engine.api import EngineClient
from acemux.engine.health import EngineHealth
from acemux.errors import AcemuxError, EngineUnavailable, LimitReached

if TYPE_CHECKING:
    from acemux.engine.provision.fleet import Provisioned

log = logging.getLogger(__name__)

# What the API shows of a --engine engine in the fields of provisioned ones.
STATIC_ENGINE = {
    "provider": "static",
    "id": None,
    "port": None,
    "state": "ready",
    "age_seconds": None,
    "restarts": 0,
    "reason": None,
    "adopted": False,
}


class EngineMember:
    """One configured engine: its client, its health, its cap and the channels it carries."""

    def __init__(
        self,
        spec: EngineSpec,
        settings: Settings,
        index: int,
        provisioned: "Provisioned | None" = None,
    ) -> None:
        self.spec = spec
        self.index = index
        # What a provider knows of it (None for a static --engine); its state
        # (starting, ready, draining, stopping) says whether it takes channels.
        self.provisioned = provisioned
        self.client = EngineClient(settings, spec.url)
        self.health = EngineHealth(
            self.client,
            settings.engine_check_interval,
            settings.engine_check_timeout,
            fall=settings.engine_check_fall,
            rise=settings.engine_check_rise,
        )
        self.channels = 0

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def healthy(self) -> bool:
        """Up (or not checked yet) and its breaker not open."""
        return self.health.up is not False and self.client.breaker.state != "open"

    @property
    def ready(self) -> bool:
        return self.provisioned is None or self.provisioned.state == "ready"

    @property
    def full(self) -> bool:
        cap = self.spec.max_channels
        return cap is not None and self.channels >= cap

    def _rank(self) -> tuple[float, int, int]:
        cap = self.spec.max_channels
        free = float("inf") if cap is None else cap - self.channels
        return (free, -self.channels, -self.index)

    def state(self) -> str:
        if not self.ready:
            return self.provisioned.state
        if not self.healthy:
            return f"down: {self.health.last_error or 'breaker open'}"
        if self.full:
            return f"full: {self.channels}/{self.spec.max_channels} channels"
        return "ok"

    def describe(self) -> dict:
        return {
            **self.health.describe(),
            "channels": self.channels,
            "max_channels": self.spec.max_channels,
            "healthy": self.healthy,
            **(self.provisioned.describe() if self.provisioned else STATIC_ENGINE),
        }


class EnginePool:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.members = [
            EngineMember(spec, settings, index) for index, spec in enumerate(settings.engines)
        ]
        self._next_index = len(self.members)

    async def add(self, spec: EngineSpec, provisioned: "Provisioned") -> EngineMember:
        """A provisioned engine joins (not taking channels until it is ready)."""
        member = EngineMember(spec, self._settings, self._next_index, provisioned)
        self._next_index += 1
        await member.client.open()
        self.members.append(member)
        return member

    async def remove(self, member: EngineMember) -> None:
        """A provisioned engine leaves: its checks stop and its connections close."""
        if member in self.members:
            self.members.remove(member)
        await member.health.stop()
        await member.client.close()

    async def open(self) -> None:
        for member in self.members:
            await member.client.open()

    async def close(self) -> None:
        for member in self.members:
            await member.client.close()

    def start_health_checks(self) -> None:
        for member in self.members:
            member.health.start()

    async def stop_health_checks(self) -> None:
        for member in self.members:
            await member.health.stop()

    def choose(self, avoid: EngineMember | None = None, reconnecting: bool = False) -> EngineMember:
        """The engine for a channel; `avoid` is one that just failed it.

        A reconnecting channel that finds no other engine stays on `avoid`: its
        attempts, paced by backoff, are what notices the engine coming back.
        """
        candidates = [m for m in self.members if m.ready and m.healthy and not m.full]
        others = [m for m in candidates if m is not avoid]
        if others:
            candidates = others
        if not candidates and not reconnecting:
            candidates = self._last_resort()
        if candidates:
            chosen = max(candidates, key=EngineMember._rank)
        elif reconnecting and avoid is not None:
            chosen = avoid
        else:
            raise self._refusal()
        chosen.channels += 1
        return chosen

    def _last_resort(self) -> list[EngineMember]:
        """With every engine down: those marked down whose breaker is not open and not full."""
        ready = [m for m in self.members if m.ready]  # never a booting or leaving engine
        if any(m.healthy for m in ready):
            return []  # some engine is up but full: that is a limit, not an outage
        return [m for m in ready if m.client.breaker.state != "open" and not m.full]

    def describe_states(self) -> str:
        return "; ".join(f"{m.url} {m.state()}" for m in self.members)

    def tried_anyway(self, member: EngineMember, err: AcemuxError) -> AcemuxError:
        """The error of a getstream on an engine marked down, saying why it was tried at all."""
        explained = type(err)(
            f"every engine is marked down ({self.describe_states()}); "
            f"tried {member.url} anyway: {err.message}"
        )
        explained.retry_after = err.retry_after
        return explained

    def release(self, member: EngineMember) -> None:
        member.channels -= 1

    def _refusal(self) -> EngineUnavailable | LimitReached:
        states = self.describe_states()
        if not self.members:
            return EngineUnavailable("no engine is running yet")
        if any(m.ready and m.healthy for m in self.members):
            return LimitReached(f"every engine is full ({states})")
        err = EngineUnavailable(f"no engine is available ({states})")
        retry = [m.client.breaker.retry_after() for m in self.members]
        err.retry_after = min([r for r in retry if r] or [EngineUnavailable.retry_after])
        return err

    def any_healthy(self) -> bool:
        return any(m.health.up for m in self.members)

    def describe(self) -> list[dict]:
        return [member.describe() for member in self.members]
