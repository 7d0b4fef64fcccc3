"""What acemux knows of each engine it provisioned, as the API and metrics show it.

States: `starting` (booting: takes no channels), `ready`, `draining` (being
replaced or retired: takes no new channels, its channels move away) and
`stopping`. The timestamps beside them are what the autoscaler's limits are
measured against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from acemux.engine.provision.provider import EngineHandle

STATES = ("starting", "ready", "draining", "stopping")


@dataclass
class Provisioned:
    handle: EngineHandle
    state: str = "starting"
    restarts: int = 0  # engines replaced before this one in its place
    provider_restarts: int = 0  # restarts by the provider itself (Docker's restart policy)
    reason: str = ""  # why it is draining or stopping
    replace: bool = False  # draining to be replaced (healing), not retired
    adopted: bool = False  # found running when acemux started
    idle_since: float | None = None  # loop time its last channel left
    unhealthy_since: float | None = None  # loop time it first failed a check while ready
    starved_since: float | None = None  # loop time all its channels went starved
    created: float = field(default_factory=time.time)

    def drain(self, reason: str, replace: bool) -> None:
        self.state, self.reason, self.replace = "draining", reason, replace

    def describe(self) -> dict:
        return {
            "provider": self.handle.provider,
            "id": self.handle.id,
            "port": self.handle.port,
            "state": self.state,
            "age_seconds": round(time.time() - self.handle.started_at, 1),
            "restarts": self.restarts + self.provider_restarts,
            "reason": self.reason or None,
            "adopted": self.adopted,
        }
