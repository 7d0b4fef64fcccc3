"""Fixtures every test folder shares: a fake engine, an acemux in front of it, a client."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import pytest

from acemux.fake_engine import FakeEngine
from acemux.web.app import AcemuxServer
from tests.integration.conftest import running_proxy


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
