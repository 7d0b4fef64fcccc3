"""A real Docker daemon for the docker tests, and the acemux image built on a local base.

Session-scoped: uses the daemon at DOCKER_HOST or /var/run/docker.sock when one
answers, else starts dockerd (vfs storage, host networking only) in a temporary
directory. The base image is a Debian made with debootstrap and imported (no
registry is contacted); the acemux image is built from the repo's Dockerfile on
it, installed from wheels made on the host. The same image serves as the
engine image (`acemux fake-engine`). Everything started is removed at the end.
A machine that cannot run a daemon fails these tests; they are never skipped.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.docker.dockerapi import DockerApi, file_chunks

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "acemux-test-base:bookworm"
ACEMUX_IMAGE = "acemux-test:latest"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "acemux-tests"
BASE_TAR = CACHE / "bookworm-python3-rootfs.tar"
TEST_LABEL = "acemux.test=1"  # on every container the tests themselves create
DAEMON_START_SECONDS = 60


@dataclass(frozen=True)
class DockerEnv:
    socket: str
    acemux_image: str


def _fail(message: str) -> None:
    pytest.fail(f"docker tests need a Docker daemon: {message}", pytrace=False)


def _answers(socket_path: str) -> bool:
    async def ping() -> bool:
        async with DockerApi(socket_path) as api:
            return await api.ping()

    return os.path.exists(socket_path) and asyncio.run(ping())


def _existing_daemon() -> str | None:
    host = os.environ.get("DOCKER_HOST", "")
    for path in (host.removeprefix("unix://") if host.startswith("unix://") else "",
                 "/var/run/docker.sock"):
        if path and _answers(path):
            return path
    return None


def _start_dockerd(workdir: Path) -> subprocess.Popen:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        _fail("dockerd is not installed (scripts/test.sh installs docker.io)")
    socket_path = workdir / "docker.sock"
    with open(workdir / "dockerd.log", "wb") as log:  # the daemon keeps its own copy
        proc = subprocess.Popen(
            [dockerd, "--data-root", str(workdir / "data"), "--exec-root", str(workdir / "exec"),
             "--pidfile", str(workdir / "docker.pid"), "--host", f"unix://{socket_path}",
             "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false",
             "--bridge=none"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + DAEMON_START_SECONDS
    while not _answers(str(socket_path)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = (workdir / "dockerd.log").read_text(errors="replace")[-2000:]
            _fail(f"dockerd did not come up:\n{tail}")
        time.sleep(0.2)  # a daemon booting has no event to await
    return proc


def _base_rootfs_tar() -> Path:
    """A minimal Debian with python3 and venv, made once and kept in the cache."""
    if BASE_TAR.exists():
        return BASE_TAR
    if shutil.which("debootstrap") is None:
        _fail("debootstrap is not installed (scripts/test.sh installs it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="acemux-rootfs-") as rootfs:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
             rootfs, "http://deb.debian.org/debian"],
            check=True, stdout=subprocess.DEVNULL,
        )
        os.chmod(rootfs, 0o755)  # the image's "/": a temporary directory is 0700
        partial = BASE_TAR.with_suffix(".partial")
        subprocess.run(["tar", "-C", rootfs, "-cf", str(partial), "."], check=True)
        partial.rename(BASE_TAR)
    return BASE_TAR


def _wheels(into: Path) -> None:
    """acemux and every dependency as wheels, made on the host (containers trust no index)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--no-build-isolation", "--wheel-dir", str(into), f"{ROOT}[docker]",
         "setuptools>=68", "wheel"],  # what building acemux in the image needs
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        _fail(f"pip wheel failed:\n{done.stderr[-3000:]}")


def _build_context(wheels: Path) -> io.BytesIO:
    buf = io.BytesIO()
    skip = lambda info: None if "__pycache__" in info.name else info  # noqa: E731
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("Dockerfile", "pyproject.toml", "README.md", "acemux"):
            tar.add(ROOT / name, arcname=name, filter=skip)
        tar.add(wheels, arcname="wheels")
    buf.seek(0)
    return buf


async def _images(socket_path: str, rootfs_tar: Path, context: io.BytesIO) -> None:
    async with DockerApi(socket_path) as api:
        repo, tag = BASE_IMAGE.split(":")
        await api.stream(
            "/images/create", {"fromSrc": "-", "repo": repo, "tag": tag},
            file_chunks(str(rootfs_tar)), "application/x-tar",
        )
        await api.stream(
            "/build",
            {
                "t": ACEMUX_IMAGE,
                "networkmode": "host",  # no bridge here; nothing is fetched anyway
                "buildargs": '{"BASE_IMAGE": "%s", "PIP_INSTALL_ARGS": '
                '"--no-index --find-links /app/wheels"}' % BASE_IMAGE,
                "rm": "1",
                "forcerm": "1",
            },
            context,
            "application/x-tar",
        )


async def _remove_test_containers(socket_path: str) -> None:
    async with DockerApi(socket_path) as api:
        for label in (TEST_LABEL, "acemux.owner"):
            for container in await api.containers(label):
                await api.remove(container["Id"])


@pytest.fixture(scope="session")
def docker_env() -> Iterator[DockerEnv]:
    workdir = Path(tempfile.mkdtemp(prefix="acemux-docker-", dir="/tmp"))
    daemon = None
    try:
        socket_path = _existing_daemon()
        if socket_path is None:
            daemon = _start_dockerd(workdir)
            socket_path = str(workdir / "docker.sock")
        rootfs_tar = _base_rootfs_tar()
        _wheels(workdir / "wheels")
        asyncio.run(_images(socket_path, rootfs_tar, _build_context(workdir / "wheels")))
        yield DockerEnv(socket_path, ACEMUX_IMAGE)
        asyncio.run(_remove_test_containers(socket_path))
    finally:
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            # The daemon leaves its default network namespace mounted.
            netns = workdir / "exec" / "netns" / "default"
            if netns.exists():
                subprocess.run(["umount", str(netns)], check=False, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
