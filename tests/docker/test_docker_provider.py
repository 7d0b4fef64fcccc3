"""The docker provider against a real daemon: scale, play, heal, retire, adopt, bad input."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack

import pytest

from acemux.web.keys import REGISTRY
from tests.docker.dockerapi import DockerApi
from tests.docker.helpers import docker_proxy, labelled, new_owner, remove_owned
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.provision.helpers import (
    IDS,
    engines_api,
    kill_and_time_the_move,
    provisioned,
    scaler,
    settled,
)
from tests.streamclient import RecordingViewer, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]  # the first builds the images


@pytest.fixture
async def owner(docker_env):
    name = new_owner()
    yield name
    await remove_owned(docker_env, name)


@needs_ffmpeg
async def test_five_channels_on_three_containers_play_then_extra_ones_are_removed(
    docker_env, owner, http
):
    async with docker_proxy(docker_env, owner, engine_idle_seconds=1.0) as proxy:
        async with AsyncExitStack() as stack:
            await settled(proxy, timeout=90)
            viewers = []
            for cid in IDS[:5]:
                url = f"{proxy.url}/ace/getstream?id={cid}"
                viewers.append(await stack.enter_async_context(RecordingViewer(http, url)))
                await settled(proxy, timeout=90)
            for viewer in viewers:
                await viewer.wait_bytes(100_000, timeout=30)
            per_engine = Counter(s.member.url for s in proxy.app[REGISTRY].sessions())
            assert len(per_engine) == 3 and max(per_engine.values()) == 2
            listed = (await engines_api(http, proxy))["engines"]
            assert len(listed) == 4 and {e["provider"] for e in listed} == {"docker"}
            assert {e["state"] for e in listed} == {"ready"}
            running = await labelled(docker_env, owner)
            assert sorted(c["Id"] for c in running) == sorted(e["id"] for e in listed)
            assert {c["HostConfig"]["NetworkMode"] for c in running} == {"host"}
            results = await asyncio.gather(
                *(decode_url(f"{proxy.url}/ace/getstream?id={cid}", 3) for cid in IDS[:5])
            )
            for code, errors in results:
                assert code == 0 and errors == "", errors
        await wait_until(lambda: len(provisioned(proxy)) == 1, timeout=60)
        await settled(proxy)
        assert scaler(proxy).decisions["retired"] == 3
        remaining = await labelled(docker_env, owner)
        assert [c["Id"] for c in remaining] == [provisioned(proxy)[0].provisioned.handle.id]


@needs_ffmpeg
async def test_killed_container_its_channel_moves_with_the_viewer_reading(
    docker_env, owner, http
):
    async with docker_proxy(docker_env, owner) as proxy:
        await settled(proxy, timeout=90)
        url = f"{proxy.url}/ace/getstream?id={IDS[0]}"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(50_000)
            await settled(proxy, timeout=90)
            doomed = proxy.app[REGISTRY].find(IDS[0]).member
            decoding = asyncio.create_task(decode_url(url, 8, timeout=45))
            await viewer.wait_more(100_000)

            async def kill() -> None:
                async with DockerApi(docker_env.socket) as api:
                    await api.kill(doomed.provisioned.handle.id)

            moved = lambda: proxy.app[REGISTRY].find(IDS[0]).member is not doomed  # noqa: E731
            await kill_and_time_the_move(viewer, kill, moved, timeout=30)
            code, errors = await decoding
            assert code == 0, errors
            assert not viewer.gone
            await wait_until(lambda: doomed not in provisioned(proxy), timeout=30)
            await settled(proxy, timeout=90)
            ids = sorted(m.provisioned.handle.id for m in provisioned(proxy))
            assert sorted(c["Id"] for c in await labelled(docker_env, owner)) == ids
            assert scaler(proxy).decisions["replaced"] == 1


async def test_restarted_acemux_adopts_its_containers(docker_env, owner, http):
    async with docker_proxy(docker_env, owner, min_engines=2, spare_engines=0) as first:
        await settled(first, timeout=90)
        before = sorted(m.provisioned.handle.id for m in provisioned(first))
    assert len(before) == 2
    # Left running on shutdown, for the next acemux; a stopped one is cleared away.
    async with DockerApi(docker_env.socket) as api:
        await api.call("POST", f"/containers/{before[1]}/stop", {"t": "1"})
    async with docker_proxy(docker_env, owner, min_engines=2, spare_engines=0) as second:
        await settled(second, timeout=90)
        body = await engines_api(http, second)
        listed = body["engines"]
        assert len(listed) == 2
        assert [e["id"] for e in listed if e["adopted"]] == [before[0]]
        assert body["provisioning"]["decisions"]["started"] == 1
        running = await labelled(docker_env, owner)
        assert sorted(c["Id"] for c in running) == sorted(e["id"] for e in listed)
        async with RecordingViewer(http, f"{second.url}/ace/getstream?id={IDS[0]}") as viewer:
            await viewer.wait_bytes(50_000)


async def test_container_settings_reach_the_daemon(docker_env, owner, http):
    settings = dict(
        min_engines=1,
        spare_engines=0,
        engine_env="FOO=bar,EMPTY=",
        engine_port_env="ENGINE_PORT",
        engine_memory="256m",
        engine_restart_policy="on-failure",
        engine_labels="acemux.test=1,team=video",
    )
    async with docker_proxy(docker_env, owner, **settings) as proxy:
        await settled(proxy, timeout=90)
        handle = provisioned(proxy)[0].provisioned.handle
        async with DockerApi(docker_env.socket) as api:
            info = await api.inspect(handle.id)
    port = str(handle.port)
    assert info["Name"] == f"/{owner}-engine-{port}"
    assert info["Config"]["Cmd"] == ["fake-engine", "--port", port, "--log-level", "WARNING"]
    assert {"FOO=bar", "EMPTY=", f"ENGINE_PORT={port}"} <= set(info["Config"]["Env"])
    labels = info["Config"]["Labels"]
    assert labels["acemux.owner"] == owner and labels["acemux.port"] == port
    assert labels["team"] == "video"
    host = info["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["RestartPolicy"]["Name"] == "on-failure"
    assert host["NetworkMode"] == "host"


async def test_a_missing_image_is_a_clear_error(docker_env, owner, http):
    async with docker_proxy(docker_env, owner, engine_image="acemux-no-such-image:1") as proxy:
        await wait_until(lambda: scaler(proxy).failures >= 1, timeout=20)
        state = (await engines_api(http, proxy))["provisioning"]
        assert "engine image 'acemux-no-such-image:1' not found" in state["last_error"]
    assert await labelled(docker_env, owner) == []


async def test_a_missing_socket_is_a_clear_error(docker_env, owner, http, tmp_path):
    missing = tmp_path / "docker.sock"
    async with docker_proxy(docker_env, owner, docker_socket=str(missing)) as proxy:
        await wait_until(lambda: scaler(proxy).failures >= 1, timeout=20)
        state = (await engines_api(http, proxy))["provisioning"]
        assert state["last_error"].startswith(f"Docker socket {missing} not found")
        assert (await engines_api(http, proxy))["engines"] == []
