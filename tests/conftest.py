"""Fixtures every test folder shares: a fake engine, an acemux in front of it, a client."""

from __future__ import annotations

import os
from typing import AsyncIterator

import aiohttp
import pytest

from acemux.fake_engine import FakeEngine
from acemux.web.app import AcemuxServer
from tests.integration.conftest import running_proxy


# In CI a skip is a failure: .ci/run installs every program the tests use
# (ffmpeg, chromium, haproxy, docker), so a skip there is a missing install step.
IN_CI = bool(os.environ.get("CI"))


def _failed_in_ci(report) -> None:
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _failed_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _failed_in_ci(outcome.get_result())


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
