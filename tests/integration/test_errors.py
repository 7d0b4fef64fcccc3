"""Bad input and engine failures get a clear JSON error; everyone else keeps playing."""

from __future__ import annotations

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from tests.integration.conftest import running_proxy
from tests.streamclient import free_port, read_stream

CID = DEMO_CONTENT_ID


async def _error(http, url: str) -> tuple[int, dict, dict]:
    async with http.get(url) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json(), dict(resp.headers)


@pytest.mark.parametrize(
    "path, message",
    [
        ("/ace/getstream", "missing content id"),
        (f"/ace/getstream?id={CID}&infohash={CID}", "exactly one"),
        ("/ace/getstream?id=12345", "40 hexadecimal"),
        ("/ace/getstream?id=" + "z" * 40, "40 hexadecimal"),
        ("/ace/getstream/not-an-id", "40 hexadecimal"),
        (f"/ace/getstream?id={CID}&x=" + "a" * 5000, "too long"),
        ("/ace/status?id=nothex", "40 hexadecimal"),
    ],
    ids=["missing", "both", "short", "not-hex", "path", "oversized", "status"],
)
async def test_bad_requests_are_400_with_a_json_error(engine, proxy, http, path, message):
    status, body, _ = await _error(http, proxy.url + path)
    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert message in body["error"]["message"]
    assert engine.stats.getstream_calls == 0


async def test_unknown_route_is_a_json_404(proxy, http):
    status, body, _ = await _error(http, proxy.url + "/nope")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_engine_error_is_502_with_the_engines_message(engine, proxy, http):
    engine.faults.getstream_error = "failed to load content"
    status, body, _ = await _error(http, f"{proxy.url}/ace/getstream?id={CID}")
    assert status == 502
    assert body["error"]["code"] == "engine_error"
    assert "failed to load content" in body["error"]["message"]
    # The failed channel is forgotten: the next request tries the engine again.
    engine.faults.getstream_error = None
    assert len(await read_stream(http, f"{proxy.url}/ace/getstream?id={CID}", 10_000)) == 10_000


async def test_unreachable_engine_is_503_with_retry_after(http):
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    async with running_proxy(dead) as proxy:
        status, body, headers = await _error(http, f"{proxy.url}/ace/getstream?id={CID}")
    assert status == 503
    assert body["error"]["code"] == "engine_unavailable"
    assert int(headers["Retry-After"]) > 0


async def test_bad_requests_do_not_disturb_a_playing_viewer(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with http.get(url) as viewer:
        await viewer.content.readexactly(50_000)
        for path in ("/ace/getstream", "/ace/getstream?id=bad", "/ace/status?id=bad"):
            assert (await _error(http, proxy.url + path))[0] == 400
        engine.faults.getstream_error = "failed to load content"
        assert (await _error(http, f"{proxy.url}/ace/getstream?id={'d' * 40}"))[0] == 502
        await viewer.content.readexactly(200_000)
