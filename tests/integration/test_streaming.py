"""The core path: one upstream per channel, fanned out to every viewer."""

from __future__ import annotations

import asyncio
import socket

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine, default_loop
from acemux.streaming.viewer import KEEPALIVE_IDLE
from acemux.web.keys import REGISTRY
from tests.integration.conftest import running_proxy
from tests.streamclient import (
    StalledViewer,
    read_n,
    read_stream,
    strip_null_packets,
    wait_until,
)
from tests.tspackets import assert_whole_packets, pids

CID = DEMO_CONTENT_ID


async def test_viewers_of_one_channel_share_one_engine_session(engine, proxy, http):
    urls = [
        f"{proxy.url}/ace/getstream?id={CID}",
        f"{proxy.url}/ace/getstream/{CID}",
        f"{proxy.url}/ace/getstream?content_id={CID}&pid=player-own-pid",
    ]
    results = await asyncio.gather(*(read_stream(http, url, 200_000) for url in urls))
    for data in results:
        assert len(data) == 200_000
    assert engine.stats.getstream_calls == 1
    assert engine.stats.playback_connections == 1
    for headers in (*engine.stats.getstream_headers, *engine.stats.playback_headers):
        assert headers["Accept-Encoding"] == "identity"
    pid = engine.session_for(CID).pid
    assert pid and pid != "player-own-pid", "acemux owns the engine pid"


async def test_infohash_selects_a_channel(engine, proxy, http):
    data = await read_stream(http, f"{proxy.url}/ace/getstream?infohash={'b' * 40}", 50_000)
    assert len(data) == 50_000
    assert engine.stats.getstream_calls_by_id == {"b" * 40: 1}


async def test_viewers_present_from_the_start_get_the_engines_bytes(engine, proxy, http):
    engine.faults.prebuffer_seconds = 0.5  # both viewers attach before the first byte
    engine.faults.start_mode = "start_of_file"  # so the engine's bytes are known
    url = f"{proxy.url}/ace/getstream?id={CID}"
    first, second = await asyncio.gather(
        read_stream(http, url, 188 * 2000), read_stream(http, url, 188 * 2000)
    )
    assert first == second
    assert_whole_packets(first)
    sent = strip_null_packets(first)
    # The engine starts at a keyframe: viewers get its bytes unchanged from the first.
    assert sent == default_loop().loop_bytes(0)[: len(sent)]


async def test_late_joiner_starts_at_a_pat_on_a_packet_boundary(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with http.get(url) as first:
        early = await read_n(first.content, 300_000)
        joiner, more = await asyncio.gather(
            read_stream(http, url, 100_000), read_n(first.content, 600_000)
        )
    assert_whole_packets(joiner[: len(joiner) - len(joiner) % 188])
    assert pids(joiner[:188]) == [0], "a joiner's first packet is the latest PAT"
    # The joiner's bytes are the channel's bytes, from recent data.
    stream = strip_null_packets(early + more)
    joined = strip_null_packets(joiner[: len(joiner) - len(joiner) % 188])
    assert joined[:50_000] in stream
    assert engine.stats.playback_connections == 1


async def test_stalled_viewer_does_not_hold_back_others(engine, http):
    engine.faults.rate = 40  # ~3.5 MB/s: a stalled socket fills its kernel buffers in ~1 s
    async with running_proxy(engine.url, client_stall_seconds=1.0) as proxy:
        registry = proxy.app[REGISTRY]
        path = f"/ace/getstream?id={CID}"
        async with StalledViewer(proxy.port, path):
            async with http.get(proxy.url + path) as healthy:
                await wait_until(lambda: (s := registry.find(CID)) and len(s.viewers) == 2)
                healthy_id = max(registry.find(CID).viewers)
                data = await read_n(healthy.content, 8_000_000)
                assert len(data) == 8_000_000
                # The stalled viewer is dropped; the healthy one never lagged.
                await wait_until(lambda: len(registry.find(CID).viewers) == 1, timeout=10)
                viewer = registry.find(CID).viewers[healthy_id]
                assert viewer.skips == 0
                assert len(await read_n(healthy.content, 500_000)) == 500_000
    assert engine.stats.playback_connections == 1


async def test_a_viewer_that_backs_up_is_fed_from_the_ring_without_a_gap(engine, http):
    engine.faults.prebuffer_seconds = 0.5  # the viewer attaches before the first byte
    engine.faults.start_mode = "start_of_file"  # so the engine's bytes are known
    engine.faults.rate = 20
    loop = asyncio.get_running_loop()
    async with running_proxy(engine.url, client_high_water=64 * 1024) as proxy:
        registry = proxy.app[REGISTRY]
        async with StalledViewer(proxy.port, f"/ace/getstream?id={CID}") as stalled:
            await wait_until(lambda: (s := registry.find(CID)) and len(s.viewers) == 1)
            viewer = next(iter(registry.find(CID).viewers.values()))
            # It reads nothing: its transport backs up and says so; the reader stops
            # writing to it, and its own task will go on from the next chunk.
            await wait_until(lambda: viewer.paused and not viewer.live, timeout=10)
            live_bytes = viewer.bytes_sent  # written live, most of it still in kernel buffers
            received = bytearray()
            async with asyncio.timeout(15):
                # Now it reads as fast as it can: fed from the ring, it catches up.
                while not viewer.live or len(received) < live_bytes + 500_000:
                    data = await loop.sock_recv(stalled.sock, 65536)
                    if not data:  # closed by acemux: the checks below say what arrived
                        break
                    received += data
            assert viewer.skips == 0 and not viewer.paused
    body = bytes(received).split(b"\r\n\r\n", 1)[1]
    body = body[: len(body) - len(body) % 188]
    assert_whole_packets(body)
    sent = strip_null_packets(body)
    tsloop = default_loop()
    loops = len(sent) // len(tsloop.loop_bytes(0)) + 1
    expected = b"".join(tsloop.loop_bytes(k) for k in range(loops))  # the engine loops
    n = min(len(sent), len(expected))
    assert n > live_bytes + 400_000
    # Every byte the engine sent, once and in order, across the move off and back on.
    assert sent[:n] == expected[:n]


async def test_stop_once_after_the_grace_period(engine, http):
    async with running_proxy(engine.url, grace_seconds=1.0) as proxy:
        url = f"{proxy.url}/ace/getstream?id={CID}"
        await read_stream(http, url, 20_000)
        # Back within the grace period: the running session is reused.
        await read_stream(http, url, 20_000)
        assert engine.stats.stop_calls == 0
        assert engine.stats.getstream_calls == 1
        assert engine.stats.playback_connections == 1
        await engine.wait_for(lambda s: s.stop_calls == 1 and s.open_playback == 0, timeout=5)
        assert len(proxy.app[REGISTRY]) == 0
        # A new viewer after the stop starts a new engine session.
        await read_stream(http, url, 20_000)
        assert engine.stats.getstream_calls == 2
    assert engine.stats.stop_calls == 2  # shutdown stops the second session


async def test_status(engine, proxy, http):
    async with http.get(f"{proxy.url}/ace/status") as resp:
        assert await resp.json() == {"streams": 0}
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with http.get(url) as viewer:
        await read_n(viewer.content, 10_000)
        async with http.get(f"{proxy.url}/ace/status") as resp:
            assert await resp.json() == {"streams": 1}
        async with http.get(f"{proxy.url}/ace/status?id={CID}") as resp:
            body = await resp.json()
        assert body["clients"] == 1
        assert body["state"] == "playing"
        assert body["viewers"][0]["bytes_sent"] >= 10_000
    async with http.get(f"{proxy.url}/ace/status?id={'c' * 40}") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_a_viewer_leaving_is_noticed_at_once_while_the_engine_prebuffers(http):
    async with FakeEngine(prebuffer_seconds=30) as engine:  # no stream bytes during the test
        async with running_proxy(engine.url) as proxy:
            registry = proxy.app[REGISTRY]
            async with http.get(f"{proxy.url}/ace/getstream?id={CID}") as viewer:
                await wait_until(lambda: (s := registry.find(CID)) and len(s.viewers) == 1)
                session = registry.find(CID)
                transport = next(iter(session.viewers.values())).transport
                sock = transport.get_extra_info("socket")
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE
                viewer.close()
            await wait_until(lambda: not session.viewers, timeout=1)
