"""The acemux image, built from the repo's Dockerfile on the local base, in a container:
its HEALTHCHECK turns healthy and it serves a stream that decodes cleanly."""

from __future__ import annotations

import asyncio

import pytest

from acemux.fake_engine import FakeEngine
from tests.docker.conftest import TEST_LABEL
from tests.docker.dockerapi import DockerApi
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.provision.helpers import IDS
from tests.streamclient import free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]  # the first builds the images

SECOND_NS = 1_000_000_000


async def _health(api: DockerApi, container_id: str) -> str:
    state = (await api.inspect(container_id))["State"]
    assert state["Running"], state
    return state["Health"]["Status"]


@needs_ffmpeg
async def test_the_acemux_image_turns_healthy_and_serves_a_stream(docker_env, http):
    port = free_port()
    key, value = TEST_LABEL.split("=")
    async with FakeEngine(rate=4.0) as engine, DockerApi(docker_env.socket) as api:
        container = await api.run(
            {
                "Image": docker_env.acemux_image,
                "Env": [f"ACEMUX_PORT={port}", f"ACEMUX_ENGINES={engine.url}",
                        "ACEMUX_HOST=127.0.0.1"],
                "Labels": {key: value},
                # The image's own check command; only checked more often than every 30 s.
                "Healthcheck": {"Interval": SECOND_NS // 2, "StartPeriod": 30 * SECOND_NS},
                "HostConfig": {"NetworkMode": "host"},
            },
            name=f"acemux-image-test-{port}",
        )
        try:
            image = await api.call("GET", f"/images/{docker_env.acemux_image}/json")
            assert image["Config"]["User"] == "acemux"
            assert "healthz" in " ".join(image["Config"]["Healthcheck"]["Test"])
            await _wait_healthy(api, container)
            code, errors = await decode_url(f"http://127.0.0.1:{port}/ace/getstream?id={IDS[0]}", 3)
            assert code == 0 and errors == "", errors
        finally:
            await api.remove(container)


async def _wait_healthy(api: DockerApi, container: str) -> None:
    """Poll the daemon's verdict (its checks run on its own clock: no event to await)."""
    async with asyncio.timeout(60):
        while (status := await _health(api, container)) != "healthy":
            assert status == "starting", status
            await asyncio.sleep(0.2)
