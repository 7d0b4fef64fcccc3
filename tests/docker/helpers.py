"""acemux with the docker provider against the tests' daemon; the acemux image as engine."""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import AsyncIterator

from acemux.web.app import AcemuxServer
from tests.docker.conftest import TEST_LABEL, DockerEnv
from tests.docker.dockerapi import DockerApi
from tests.provision.helpers import provisioned_settings

_owners = itertools.count(1)


def new_owner() -> str:
    """A label value of one test's own: its containers only."""
    return f"acemux-test-{os.getpid()}-{next(_owners)}"


def docker_settings(env: DockerEnv, owner: str, **overrides):
    values = dict(
        provider="docker",
        engine_command="fake-engine --port {port} --log-level WARNING",
        engine_image=env.acemux_image,
        docker_socket=env.socket,
        engine_network="host",
        engine_owner=owner,
        engine_labels=TEST_LABEL,
        engine_start_timeout=60,
    )
    values.update(overrides)
    return provisioned_settings(**values)


@contextlib.asynccontextmanager
async def docker_proxy(env: DockerEnv, owner: str, **overrides) -> AsyncIterator[AcemuxServer]:
    async with AcemuxServer(docker_settings(env, owner, **overrides)) as server:
        yield server


async def labelled(env: DockerEnv, owner: str) -> list[dict]:
    """What the daemon runs with this owner's label (`docker ps -a --filter label=…`)."""
    async with DockerApi(env.socket) as api:
        return await api.containers(f"acemux.owner={owner}")


async def remove_owned(env: DockerEnv, owner: str) -> None:
    async with DockerApi(env.socket) as api:
        for container in await api.containers(f"acemux.owner={owner}"):
            await api.remove(container["Id"])
