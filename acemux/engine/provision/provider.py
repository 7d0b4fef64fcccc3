"""The provider interface: start an engine, stop it, list the ones acemux owns, inspect one.

A provider only runs engines; deciding how many, and which to replace, is the
autoscaler's job. Every engine listens on 127.0.0.1:<port>, its port taken
from the configured range and passed to it (command line or environment).
"""

from __future__ import annotations

import abc
import socket
from dataclasses import dataclass

from acemux.config import Settings, parse_port_range
from acemux.errors import ProvisionFailed


@dataclass(frozen=True, slots=True)
class EngineHandle:
    """One engine a provider runs: its id (pid or container id) and its port."""

    provider: str
    id: str
    port: int
    started_at: float  # wall-clock time the provider started it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True, slots=True)
class EngineStatus:
    running: bool
    detail: str = ""  # why it is not running (exit code, container state)
    restarts: int = 0  # restarts done by the provider itself (Docker's restart policy)


class Provider(abc.ABC):
    name = ""

    async def open(self) -> None:
        """Check that the provider can work (e.g. the Docker socket answers)."""

    async def close(self) -> None:
        """Called at shutdown: end what must not outlive acemux."""

    @abc.abstractmethod
    async def start(self, port: int) -> EngineHandle:
        """Start one engine on `port`; raise ProvisionFailed with a clear reason."""

    @abc.abstractmethod
    async def stop(self, handle: EngineHandle) -> None:
        """Stop the engine and remove what is left of it; never raises."""

    @abc.abstractmethod
    async def list_owned(self) -> list[EngineHandle]:
        """The engines of this provider that acemux owns and that are still there."""

    @abc.abstractmethod
    async def inspect(self, handle: EngineHandle) -> EngineStatus:
        """Whether the engine still runs, and if not, why."""

    async def last_words(self, handle: EngineHandle) -> str:
        """The engine's last output lines, for an error message (empty if unknown)."""
        return ""


class PortRange:
    """Ports for engines: the first in range that no engine uses and that can be bound."""

    def __init__(self, text: str) -> None:
        self.first, self.last = parse_port_range(text)

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def take(self, in_use: set[int]) -> int:
        for port in range(self.first, self.last + 1):
            if port not in in_use and _bindable(port):
                return port
        raise ProvisionFailed(f"no free port for an engine in {self}: every port is taken")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def make_provider(settings: Settings) -> Provider | None:
    if settings.provider == "process":
        from acemux.engine.provision.process import ProcessProvider

        return ProcessProvider(settings.engine_command)
    if settings.provider == "docker":
        from acemux.engine.provision.docker import DockerProvider

        return DockerProvider(settings)
    return None
