"""/metrics: Prometheus text read by a real parser, figures that follow what happened."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.streaming.events import UPSTREAM_CAUSES
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer, StalledViewer

CID = DEMO_CONTENT_ID


async def scrape(http, proxy) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    async with http.get(f"{proxy.url}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def scrape_until(http, proxy, predicate, timeout: float = 10.0) -> dict:
    """Scrape until predicate(samples) holds; bounded in time."""
    deadline = time.monotonic() + timeout
    while not predicate(samples := await scrape(http, proxy)):
        assert time.monotonic() < deadline, "metrics did not get there in time"
        await asyncio.sleep(0.1)
    return samples


async def test_metrics_show_channels_clients_and_bytes(engine, proxy, http):
    samples = await scrape(http, proxy)
    assert value(samples, "acemux_channels") == 0
    assert value(samples, "acemux_clients") == 0
    for cause in UPSTREAM_CAUSES:  # every cause is there from the start
        assert value(samples, "acemux_upstream_errors_total", cause=cause) == 0

    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with RecordingViewer(http, url) as first, RecordingViewer(http, url) as second:
        await first.wait_bytes(100_000)
        await second.wait_bytes(100_000)
        samples = await scrape(http, proxy)
    assert value(samples, "acemux_channels") == 1
    assert value(samples, "acemux_clients") == 2
    assert value(samples, "acemux_channel_clients", channel=CID) == 2
    assert value(samples, "acemux_channel_bytes_in_total", channel=CID) >= 100_000
    assert value(samples, "acemux_channel_bytes_out_total", channel=CID) >= 200_000
    assert value(samples, "acemux_clients_joined_total") == 2
    assert value(samples, "acemux_channels_opened_total") == 1
    assert value(samples, "acemux_time_to_first_byte_seconds_count") == 1
    assert value(samples, "acemux_engine_up", engine=engine.url) == 1
    bytes_in = value(samples, "acemux_bytes_in_total")
    assert bytes_in >= 100_000

    # Once the channel has closed (after its grace period) its bytes still count.
    samples = await scrape_until(
        http, proxy, lambda s: value(s, "acemux_channels_closed_total") == 1
    )
    assert value(samples, "acemux_channels") == 0
    assert value(samples, "acemux_channels_closed_total") == 1
    assert value(samples, "acemux_clients_left_total") == 2
    assert value(samples, "acemux_bytes_in_total") >= bytes_in
    assert not any(name == "acemux_channel_clients" for name, _ in samples)


async def test_reconnects_and_upstream_errors_are_counted_by_cause(engine, http):
    engine.faults.drop_after_bytes = 200_000  # every upstream connection ends early
    async with running_proxy(engine.url, reconnect_first_delay=0.01) as proxy:
        async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}") as viewer:
            await viewer.wait_bytes(500_000)
            samples = await scrape(http, proxy)
    assert value(samples, "acemux_reconnects_total") >= 2
    assert value(samples, "acemux_upstream_errors_total", cause="eof") >= 2


async def test_a_stalled_client_is_counted_as_dropped_for_lag(engine, http):
    engine.faults.rate = 40  # a stalled socket fills its buffers in about a second
    async with running_proxy(engine.url, client_stall_seconds=0.5) as proxy:
        path = f"/ace/getstream?id={CID}"
        async with StalledViewer(proxy.port, path), RecordingViewer(http, proxy.url + path) as healthy:
            await healthy.wait_bytes(200_000)
            samples = await scrape_until(
                http, proxy, lambda s: value(s, "acemux_clients_dropped_for_lag_total") > 0
            )
            assert value(samples, "acemux_clients_dropped_for_lag_total") == 1
            assert value(samples, "acemux_clients") == 1


async def test_each_app_counts_for_itself(engine, proxy, http):
    async with running_proxy(engine.url) as other:
        async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}") as viewer:
            await viewer.wait_bytes(10_000)
            assert value(await scrape(http, proxy), "acemux_clients_joined_total") == 1
            assert value(await scrape(http, other), "acemux_clients_joined_total") == 0
