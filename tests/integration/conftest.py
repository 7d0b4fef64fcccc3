"""Real sockets on 127.0.0.1: a fake engine and an acemux server per test."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

import aiohttp
import pytest

from acemux.config import Settings
from acemux.fake_engine import FakeEngine
from acemux.web.app import AcemuxServer


def make_settings(engine_url: str, **overrides) -> Settings:
    values = dict(host="127.0.0.1", port=0, engine=engine_url, grace_seconds=0.3)
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_proxy(engine_url: str, **overrides) -> AsyncIterator[AcemuxServer]:
    async with AcemuxServer(make_settings(engine_url, **overrides)) as server:
        yield server


@pytest.fixture
async def engine() -> AsyncIterator[FakeEngine]:
    # Faster than real time so tests read a lot of stream quickly.
    async with FakeEngine(rate=4.0) as fake:
        yield fake


@pytest.fixture
async def proxy(engine: FakeEngine) -> AsyncIterator[AcemuxServer]:
    async with running_proxy(engine.url) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
