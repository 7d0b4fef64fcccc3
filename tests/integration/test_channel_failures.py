"""Nothing wedges a channel: a failing task ends it cleanly, and no request waits for ever."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acemux.config import Settings
from acemux.engine.pool import EnginePool
from acemux.errors import EngineTimeout
from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from acemux.streaming.key import ChannelKey
from acemux.streaming.session import ChannelSession
from acemux.web.keys import METRICS, REGISTRY
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, wait_until

CID = DEMO_CONTENT_ID
PATH = f"/ace/getstream?id={CID}"


def channel_tasks() -> list[str]:
    names = [task.get_name() for task in asyncio.all_tasks()]
    return [n for n in names if n.split(":")[0] in ("reader", "heartbeat", "stats", "close")]


def failures(proxy, task: str, error: str) -> float:
    value = proxy.app[METRICS].registry.get_sample_value(
        "acemux_channel_failures_total", {"task": task, "error": error}
    )
    return value or 0.0


def raise_boom(*args: object) -> None:
    raise RuntimeError("boom: a hook that raises")


async def test_a_getstream_answer_that_is_not_utf8_json_is_a_clear_502_leaving_nothing(http):
    async with FakeEngine(getstream_garbage=True) as engine, running_proxy(engine.url) as proxy:
        async with asyncio.timeout(1.0):  # the bar: a clear answer within a second
            async with http.get(proxy.url + PATH) as resp:
                assert resp.status == 502
                error = (await resp.json())["error"]
        assert error["code"] == "engine_error" and "not JSON" in error["message"]
        await wait_until(lambda: len(proxy.app[REGISTRY]) == 0 and not channel_tasks())
        assert engine.stats.getstream_calls == 1


@pytest.mark.parametrize("where", ["reader", "heartbeat"])
async def test_a_task_that_raises_ends_the_channel_cleanly(http, caplog, where):
    """The failure path, driven directly: a hook the task calls raises."""
    # Slow prebuffer: the heartbeat sends filler while the reader waits.
    async with FakeEngine(rate=4.0, prebuffer_seconds=3 if where == "heartbeat" else 0) as engine:
        async with running_proxy(engine.url) as proxy:
            registry = proxy.app[REGISTRY]
            if where == "reader":  # the reader reports the first byte: make that raise
                proxy.app[METRICS].first_byte = raise_boom
            async with RecordingViewer(http, proxy.url + PATH) as viewer:
                session = registry.find(CID)
                if where == "heartbeat":
                    session.audience.send_filler = raise_boom
                await viewer.wait_ended(timeout=10)
            assert viewer.ended and viewer.error is None, "viewers get a clean end of stream"
            await wait_until(lambda: session.state == "closed" and not channel_tasks())
            assert len(registry) == 0
            stops = engine.stats.stop_calls_by_session
            assert list(stops.values()) == [1], "the engine session is stopped, once"
            assert failures(proxy, where, "RuntimeError") == 1
            assert where in session.last_error and "boom" in session.last_error
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None, "logged once, with traceback"


async def test_a_failure_before_the_getstream_answer_releases_the_waiting_request(http):
    async with FakeEngine(getstream_error="failed to load content") as engine:
        async with running_proxy(engine.url) as proxy:
            proxy.app[METRICS].upstream_error = raise_boom  # called on the getstream failure
            async with asyncio.timeout(5):
                async with http.get(proxy.url + PATH) as resp:
                    assert resp.status == 500
                    assert (await resp.json())["error"]["code"] == "internal_error"
            await wait_until(lambda: len(proxy.app[REGISTRY]) == 0 and not channel_tasks())
            assert failures(proxy, "reader", "RuntimeError") == 1


async def test_wait_started_has_a_deadline():
    """A channel whose getstream never answers does not hold its requests for ever."""
    settings = Settings(engine_api_timeout=0.1, start_deadline_margin=0.1)
    pool = EnginePool(settings)
    session = ChannelSession(ChannelKey.from_query({"id": CID}), pool, settings, lambda s: None)
    # Never started: nothing will ever answer.
    with pytest.raises(EngineTimeout, match="within 0.2 s"):
        await session.wait_started()


async def test_a_closed_channel_lets_go_of_its_buffer_at_once(engine, http):
    async with running_proxy(engine.url, grace_seconds=0) as proxy:
        registry = proxy.app[REGISTRY]
        async with RecordingViewer(http, proxy.url + PATH) as viewer:
            await viewer.wait_bytes(300_000)
            session = registry.find(CID)
            assert session.ring.size > 0
        await wait_until(lambda: session.state == "closed")
        assert session.ring.size == 0 and len(session.ring) == 0
        assert registry._closing == set(), "no closed channel is kept"
        assert registry.trimmer.trims >= 1, "and its memory went back to the system"


async def test_a_channel_closed_while_the_engine_answers_getstream_still_stops_that_session(http):
    async with FakeEngine(rate=4.0, getstream_seconds=0.5) as engine:
        async with running_proxy(engine.url, grace_seconds=0) as proxy:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):  # the viewer leaves before the answer
                    async with http.get(proxy.url + PATH) as resp:
                        await resp.read()
            await engine.wait_for(lambda s: s.getstream_calls == 1)
            await engine.wait_for(lambda s: s.stop_calls == 1, timeout=5)
            await wait_until(lambda: len(proxy.app[REGISTRY]) == 0 and not channel_tasks())
        [(session_id, stops)] = engine.stats.stop_calls_by_session.items()
        assert stops == 1 and engine.session_for(CID) is None
