from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from acemux.fake_engine import FakeEngine

MakeEngine = Callable[..., Awaitable[FakeEngine]]


@pytest.fixture
async def make_engine() -> AsyncIterator[MakeEngine]:
    """Start fake engines on free ports with the given faults; all stopped after the test."""
    engines: list[FakeEngine] = []

    async def make(**faults: Any) -> FakeEngine:
        engine = FakeEngine(**faults)
        await engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    # Like a proxy: no compression, so the engine's bytes arrive untouched.
    async with aiohttp.ClientSession(headers={"Accept-Encoding": "identity"}) as session:
        yield session
