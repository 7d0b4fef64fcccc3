"""The docker provider: each engine is a container, run through the Docker Engine API.

acemux talks to the daemon on its Unix socket (aiodocker; no CLI). Every
container it creates carries the label `acemux.owner=<engine_owner>` and its
port in `acemux.port`, so a restarted acemux adopts the running ones and
removes the stopped ones instead of leaking or doubling them. Engines share
the host's network (`host`) or another container's (`container:NAME`, e.g. a
VPN's); either way each listens on its own port, told to it by `{port}` in
the command and/or the `engine_port_env` variable, at 127.0.0.1:<port>.
The image is never pulled: it must be on the daemon already.
"""

from __future__ import annotations

import logging
import os
import shlex
import time

import aiohttp

from acemux.config import Settings, parse_pairs, parse_size
from acemux.engine.provision.provider import EngineHandle, EngineStatus, Provider
from acemux.errors import ProvisionFailed

try:
    import aiodocker
    from aiodocker.exceptions import DockerError
except ImportError:  # only the docker provider needs it: pip install 'acemux[docker]'
    aiodocker = None
    DockerError = Exception

log = logging.getLogger(__name__)

OWNER_LABEL = "acemux.owner"
PORT_LABEL = "acemux.port"
STOP_GRACE_SECONDS = 5
API_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5)


class DockerProvider(Provider):
    name = "docker"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._socket = settings.docker_socket.removeprefix("unix://")
        self._docker: "aiodocker.Docker | None" = None

    async def open(self) -> None:
        await self._client()

    async def _client(self) -> "aiodocker.Docker":
        """The API client, after checking the socket, the daemon and the image."""
        if self._docker is not None:
            return self._docker
        if aiodocker is None:
            raise ProvisionFailed(
                "the docker provider needs aiodocker: pip install 'acemux[docker]'"
            )
        if not os.path.exists(self._socket):
            raise ProvisionFailed(
                f"Docker socket {self._socket} not found (mount it, or set --docker-socket)"
            )
        docker = aiodocker.Docker(url=f"unix://{self._socket}", timeout=API_TIMEOUT)
        image = self._settings.engine_image
        try:
            await docker.version()
            await docker.images.inspect(image)
        except DockerError as err:
            await docker.close()
            if getattr(err, "status", None) == 404:
                raise ProvisionFailed(
                    f"engine image {image!r} not found on the Docker daemon (acemux pulls no image)"
                ) from err
            raise ProvisionFailed(f"Docker at {self._socket} failed: {_message(err)}") from err
        except (aiohttp.ClientError, OSError) as err:
            await docker.close()
            raise ProvisionFailed(f"Docker at {self._socket} does not answer: {err}") from err
        self._docker = docker
        return docker

    async def close(self) -> None:
        # Containers are left running: the next acemux adopts them.
        docker, self._docker = self._docker, None
        if docker is not None:
            await docker.close()

    def _config(self, port: int) -> dict:
        s = self._settings
        env = parse_pairs(s.engine_env)
        if s.engine_port_env:
            env[s.engine_port_env] = str(port)
        host_config: dict = {
            "NetworkMode": s.engine_network,
            "RestartPolicy": {"Name": s.engine_restart_policy},
        }
        if s.engine_memory:
            host_config["Memory"] = parse_size(s.engine_memory)
        config: dict = {
            "Image": s.engine_image,
            "Env": [f"{key}={value}" for key, value in env.items()],
            "Labels": {
                **parse_pairs(s.engine_labels),
                OWNER_LABEL: s.engine_owner,
                PORT_LABEL: str(port),
            },
            "HostConfig": host_config,
        }
        if s.engine_command.strip():
            config["Cmd"] = shlex.split(s.engine_command.replace("{port}", str(port)))
        return config

    async def start(self, port: int) -> EngineHandle:
        docker = await self._client()
        name = f"{self._settings.engine_owner}-engine-{port}"
        try:
            container = await docker.containers.create(self._config(port), name=name)
        except DockerError as err:
            raise ProvisionFailed(
                f"could not create engine container {name}: {_message(err)}"
            ) from err
        try:
            await container.start()
        except DockerError as err:
            await self._delete(container.id)
            raise ProvisionFailed(
                f"could not start engine container {name}: {_message(err)}"
            ) from err
        log.info("engine container %s (%s) started on port %d", name, container.id[:12], port)
        return EngineHandle(self.name, container.id, port, time.time())

    async def stop(self, handle: EngineHandle) -> None:
        if self._docker is None:
            return
        container = self._docker.containers.container(handle.id)
        try:
            await container.stop(t=STOP_GRACE_SECONDS)
        except DockerError as err:
            log.info("stopping engine container %s: %s", handle.id[:12], _message(err))
        await self._delete(handle.id)
        log.info("engine container %s stopped and removed", handle.id[:12])

    async def _delete(self, container_id: str) -> None:
        try:
            await self._docker.containers.container(container_id).delete(force=True)
        except DockerError as err:
            if getattr(err, "status", None) != 404:
                log.warning("removing engine container %s: %s", container_id[:12], _message(err))

    async def list_owned(self) -> list[EngineHandle]:
        """Running labelled containers; stopped ones are removed, not adopted."""
        docker = await self._client()
        filters = {"label": [f"{OWNER_LABEL}={self._settings.engine_owner}"]}
        owned = []
        for container in await docker.containers.list(all=True, filters=filters):
            info = container._container
            port = (info.get("Labels") or {}).get(PORT_LABEL, "")
            if info.get("State") != "running" or not port.isdigit():
                log.info("removing stopped engine container %s", info["Id"][:12])
                await self._delete(info["Id"])
                continue
            owned.append(EngineHandle(self.name, info["Id"], int(port), float(info["Created"])))
        return owned

    async def inspect(self, handle: EngineHandle) -> EngineStatus:
        try:
            info = await (await self._client()).containers.container(handle.id).show()
        except ProvisionFailed as err:
            return EngineStatus(False, err.message)
        except DockerError as err:
            if getattr(err, "status", None) == 404:
                return EngineStatus(False, "engine container is gone")
            return EngineStatus(True, _message(err))  # the daemon hiccuped; the engine may be fine
        state = info.get("State") or {}
        restarts = int(info.get("RestartCount") or 0)
        if state.get("Running"):
            return EngineStatus(True, restarts=restarts)
        status = state.get("Status", "stopped")
        return EngineStatus(
            False, f"engine container {status} (exit code {state.get('ExitCode')})", restarts
        )

    async def last_words(self, handle: EngineHandle) -> str:
        if self._docker is None:
            return ""
        try:
            lines = await self._docker.containers.container(handle.id).log(
                stdout=True, stderr=True, tail=20
            )
        except DockerError:
            return ""
        return " | ".join(line.rstrip() for line in lines)[-500:]


def _message(err: Exception) -> str:
    return getattr(err, "message", None) or str(err)

