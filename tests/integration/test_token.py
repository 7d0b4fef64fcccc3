"""ACEMUX_TOKEN: streams, API and monitoring need it; the dashboard page and its files do not."""

from __future__ import annotations

import logging

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.web.keys import REGISTRY
from tests.integration.conftest import running_proxy
from tests.streamclient import read_stream

CID = DEMO_CONTENT_ID
TOKEN = "s3cret-t0ken"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def guarded(engine):
    async with running_proxy(engine.url, token=TOKEN) as proxy:
        yield proxy


async def assert_unauthorized(http, method: str, url: str, **kwargs) -> None:
    async with http.request(method, url, **kwargs) as resp:
        assert resp.status == 401, await resp.text()
        body = await resp.json()
    assert body["error"]["code"] == "unauthorized"
    assert TOKEN not in str(body)


async def test_every_request_needs_the_token(guarded, http):
    paths = [
        f"/ace/getstream?id={CID}",
        f"/ace/getstream/{CID}",
        "/ace/status",
        "/api/v1/streams",
        f"/api/v1/streams/{CID}",
        "/api/v1/engines",
        "/metrics",
        "/healthz",
        "/readyz",
        "/no/such/path",
    ]
    for path in paths:
        await assert_unauthorized(http, "GET", guarded.url + path)
        wrong = {"Authorization": "Bearer nope"}
        await assert_unauthorized(http, "GET", guarded.url + path, headers=wrong)
    await assert_unauthorized(http, "GET", f"{guarded.url}/ace/getstream?id={CID}&token=nope")
    await assert_unauthorized(
        http, "GET", f"{guarded.url}/api/v1/streams", headers={"Authorization": TOKEN}
    )
    await assert_unauthorized(http, "DELETE", f"{guarded.url}/api/v1/streams/{CID}")
    await assert_unauthorized(http, "DELETE", f"{guarded.url}/api/v1/streams/{CID}/clients/1")
    assert len(guarded.app[REGISTRY]) == 0, "no channel was opened without the token"


async def test_players_pass_it_in_the_query_and_scripts_as_bearer(engine, guarded, http):
    data = await read_stream(http, f"{guarded.url}/ace/getstream?id={CID}&token={TOKEN}", 50_000)
    assert len(data) == 50_000
    data = await read_stream(http, f"{guarded.url}/ace/getstream/{CID}?token={TOKEN}", 50_000)
    assert len(data) == 50_000
    async with http.get(f"{guarded.url}/api/v1/streams", headers=BEARER) as resp:
        assert resp.status == 200
    async with http.get(f"{guarded.url}/metrics?token={TOKEN}") as resp:
        assert resp.status == 200
    # The token is acemux's own: the engine never sees it, nor does the channel's key.
    [session] = guarded.app[REGISTRY].sessions()
    assert session.key.extra == ()
    assert engine.stats.getstream_calls == 1


async def test_dashboard_files_are_open(guarded, http):
    for path in ("/", "/static/dashboard.js", "/static/dashboard.css"):
        async with http.get(guarded.url + path) as resp:
            assert resp.status == 200, path


async def test_monitoring_can_stay_open(engine, http):
    async with running_proxy(engine.url, token=TOKEN, metrics_open=True) as proxy:
        for path in ("/metrics", "/healthz"):
            async with http.get(proxy.url + path) as resp:
                assert resp.status == 200, path
        async with http.get(proxy.url + "/readyz") as resp:
            assert resp.status in (200, 503)  # open, whatever the engine's health
            assert resp.status != 401
        await assert_unauthorized(http, "GET", f"{proxy.url}/api/v1/streams")


async def test_the_token_never_reaches_the_logs(guarded, http, caplog):
    caplog.set_level(logging.DEBUG)
    await read_stream(http, f"{guarded.url}/ace/getstream?id={CID}&token={TOKEN}", 20_000)
    await assert_unauthorized(http, "GET", f"{guarded.url}/ace/getstream?id={CID}&token=wrong")
    assert caplog.records, "the stream was logged"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert "wrong" not in record.getMessage()
