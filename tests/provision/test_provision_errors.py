"""Bad provisioning input: a clear error in the API and the logs, retries with backoff."""

from __future__ import annotations

import socket
import sys

import pytest
from pydantic import ValidationError

from acemux.cli import main
from acemux.config import Settings
from acemux.engine.provision.autoscale import Autoscaler
from acemux.engine.provision.process import ProcessProvider
from acemux.engine.provision.provider import PortRange
from acemux.errors import ProvisionFailed
from tests.provision.helpers import (
    IDS,
    engines_api,
    provisioned_proxy,
    provisioned_settings,
    scaler,
)
from tests.streamclient import wait_until


async def _first_error(http, proxy) -> dict:
    await wait_until(lambda: scaler(proxy).failures >= 1, timeout=20)
    body = await engines_api(http, proxy)
    assert body["engines"] == []
    return body["provisioning"]


async def test_a_command_that_exits_at_once_is_reported_with_its_output(http):
    command = f"{sys.executable} -c \"print('no engine here'); raise SystemExit(3)\""
    async with provisioned_proxy(engine_command=command) as proxy:
        state = await _first_error(http, proxy)
        assert "exit code 3" in state["last_error"] and "no engine here" in state["last_error"]
        assert state["retry_in_seconds"] is not None
        async with http.get(f"{proxy.url}/ace/getstream?id={IDS[0]}") as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "engine_unavailable"


async def test_a_missing_command_is_reported(http):
    async with provisioned_proxy(engine_command="/nonexistent/acestreamengine --port {port}") as p:
        state = await _first_error(http, p)
        assert state["last_error"] == "engine command not found: /nonexistent/acestreamengine"


async def test_a_full_port_range_is_reported(http):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        async with provisioned_proxy(engine_ports=f"{port}-{port}") as proxy:
            state = await _first_error(http, proxy)
            assert state["last_error"] == (
                f"no free port for an engine in {port}-{port}: every port is taken"
            )


async def test_failed_starts_back_off_exponentially():
    settings = provisioned_settings()
    scaler = Autoscaler(settings, pool=None, registry=None, provider=ProcessProvider("x"))
    delays = []
    for _ in range(12):
        scaler._failed("engine would not start")
        delays.append(round(scaler.retry_at - scaler._loop.time()))
    assert delays[:5] == [1, 2, 4, 8, 16]
    assert max(delays) == 300  # at most one attempt every five minutes
    assert scaler.describe()["failures"] == 12


def test_port_ranges_parse_and_refuse_nonsense():
    assert str(PortRange("19000-19999")) == "19000-19999"
    assert str(PortRange("19000")) == "19000-19000"
    for bad in ("abc", "2000-1000", "0-10", "1-70000"):
        with pytest.raises(ValueError):
            PortRange(bad)
    with pytest.raises(ProvisionFailed):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            PortRange(f"{port}-{port}").take(set())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--provider", "process"], "needs --engine-command"),
        (["--provider", "kubernetes"], "provider must be 'process', 'docker' or empty"),
        (["--provider", "process", "--engine-command", "e {port}", "--min-engines", "5",
          "--max-engines", "2"], "min_engines must not exceed max_engines"),
        (["--provider", "process", "--engine-command", "e {port}", "--min-engines", "0",
          "--spare-engines", "0"], "no engine would ever start"),
        (["--engine-ports", "1-2-3"], "must be FIRST-LAST"),
    ],
)
def test_invalid_provider_settings_are_clear_errors(capsys, args, message):
    assert main(["serve", *args]) == 2
    assert message in capsys.readouterr().err


def test_provider_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ACEMUX_PROVIDER", "process")
    monkeypatch.setenv("ACEMUX_ENGINE_COMMAND", "engine --port {port}")
    monkeypatch.setenv("ACEMUX_CHANNELS_PER_ENGINE", "3")
    settings = Settings()
    assert settings.provider == "process" and settings.channels_per_engine == 3
    assert settings.engines == []  # no --engine given: no static engine beside the provider
    with pytest.raises(ValidationError):
        provisioned_settings(channels_per_engine=0)
