"""Playback over a real socket: start modes, faults, counters and closing."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.fake_engine.faults import GARBAGE, MISALIGN_BYTES
from acemux.fake_engine.tsloop import default_loop
from acemux.streaming.ts import PACKET_SIZE

from .conftest import MakeEngine
from .helpers import OTHER_ID, getstream, start_stream
from .tsparse import continuity_errors, parse_packets, pcrs


async def read_all(resp: aiohttp.ClientResponse) -> bytes:
    return await resp.content.read()


async def test_start_of_file_serves_the_sample_from_its_first_byte(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=0, start_mode="start_of_file")
    r = await start_stream(client, engine)
    size = len(default_loop().data)
    async with client.get(r["playback_url"]) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp2t"
        data = await resp.content.readexactly(size + 100 * PACKET_SIZE)
    assert data[:size] == default_loop().data
    assert continuity_errors(parse_packets(data)) == []


async def test_live_mode_joins_the_channel_timeline_later(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    rate = 20
    engine = await make_engine(rate=rate, start_mode="live")
    clock = asyncio.get_running_loop()
    started = clock.time()
    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as first:
        early = pcrs(parse_packets(await first.content.readexactly(200 * PACKET_SIZE)))[0]
        await asyncio.sleep(0.3)  # the live timeline moves on: 6 s of media at 20x
        async with client.get(r["playback_url"]) as second:
            data = await second.content.readexactly(200 * PACKET_SIZE)
    elapsed = clock.time() - started
    packets = parse_packets(data)  # aligned: starts on a packet boundary
    late = pcrs(packets)[0]
    assert 0.3 * rate - 1 < (late - early) / 90_000 < elapsed * rate + 1
    assert data[:PACKET_SIZE] != default_loop().data[:PACKET_SIZE]  # mid-GOP, not the file start
    assert continuity_errors(packets) == []


async def test_drop_after_bytes_ends_each_connection(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=0, drop_after_bytes=100_000)
    r = await start_stream(client, engine)
    for _ in range(2):
        async with client.get(r["playback_url"]) as resp:
            assert len(await read_all(resp)) == 100_000
    await engine.wait_for(lambda s: s.open_playback == 0)
    assert engine.stats.playback_connections == 2 and engine.stats.bytes_sent == 200_000


async def test_stall_pauses_then_continues(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=0, stall_after_bytes=50_000, stall_seconds=0.5)
    r = await start_stream(client, engine)
    clock = asyncio.get_running_loop()
    async with client.get(r["playback_url"]) as resp:
        await resp.content.readexactly(50_000)
        before = clock.time()
        await resp.content.readexactly(PACKET_SIZE)
        assert clock.time() - before >= 0.45


async def test_garbage_is_inserted_once(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    at = 100 * PACKET_SIZE
    engine = await make_engine(rate=0, garbage_after_bytes=at, start_mode="start_of_file")
    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as resp:
        data = await resp.content.readexactly(at + len(GARBAGE) + 2000 * PACKET_SIZE)
    assert data[at : at + len(GARBAGE)] == GARBAGE
    assert 0x47 not in GARBAGE and len(GARBAGE) % PACKET_SIZE
    assert data[:at] + data[at + len(GARBAGE) :] == default_loop().data[: 2100 * PACKET_SIZE]


async def test_misalign_starts_off_a_packet_boundary(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=0, misalign=True, start_mode="start_of_file")
    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as resp:
        data = await resp.content.readexactly(10 * PACKET_SIZE)
    assert data[0] != 0x47
    assert data == default_loop().data[MISALIGN_BYTES : MISALIGN_BYTES + 10 * PACKET_SIZE]


async def test_getstream_error_fails_only_the_next_calls(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(getstream_error="engine overloaded", getstream_error_count=2)
    for _ in range(2):
        assert await getstream(client, engine) == {"response": None, "error": "engine overloaded"}
    assert (await getstream(client, engine))["error"] is None
    assert engine.faults.getstream_error is None
    engine.faults.getstream_error = "always"  # no count: every call fails
    for _ in range(3):
        assert (await getstream(client, engine))["error"] == "always"


async def test_prebuffer_withholds_headers(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(prebuffer_seconds=0.5)
    clock = asyncio.get_running_loop()
    started = clock.time()
    r = await start_stream(client, engine)
    async with client.get(r["stat_url"]) as resp:
        stat = (await resp.json())["response"]
    assert (stat["status"], stat["peers"]) == ("prebuf", 0)
    async with client.get(r["playback_url"]) as resp:
        assert clock.time() - started >= 0.45
        assert resp.status == 200
    async with client.get(r["stat_url"]) as resp:
        assert (await resp.json())["response"]["status"] == "dl"


async def test_counters_and_recorded_headers(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as resp:
        await resp.content.readexactly(PACKET_SIZE)
        await engine.wait_for(lambda s: s.open_playback == 1)
        assert engine.stats.playback_connections == 1
    await engine.wait_for(lambda s: s.open_playback == 0)
    stats = engine.stats
    assert stats.getstream_calls == 1 and stats.getstream_calls_by_id[DEMO_CONTENT_ID] == 1
    assert stats.getstream_headers[-1]["accept-encoding"] == "identity"
    assert stats.playback_headers[-1]["Accept-Encoding"] == "identity"
    assert stats.bytes_sent >= PACKET_SIZE
    with pytest.raises(TimeoutError):
        await engine.wait_for(lambda s: s.open_playback == 5, timeout=0.05)


async def test_stop_and_new_sessions_close_open_playback(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as resp:
        await resp.content.readexactly(PACKET_SIZE)
        async with client.get(r["command_url"], params={"method": "stop"}) as stop:
            assert (await stop.json())["response"] == "ok"
        await asyncio.wait_for(read_all(resp), 2)  # ends cleanly
    await engine.wait_for(lambda s: s.open_playback == 0)

    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as resp:
        await resp.content.readexactly(PACKET_SIZE)
        await start_stream(client, engine)  # takes the stream away from the old session
        await asyncio.wait_for(read_all(resp), 2)
    await engine.wait_for(lambda s: s.open_playback == 0)


async def test_engine_stop_closes_playback_promptly_and_leaves_no_tasks(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    streaming = await start_stream(client, engine)
    engine.faults.prebuffer_seconds = 30
    prebuffering = await start_stream(client, engine, OTHER_ID)  # withholds headers for 30 s
    hung = asyncio.create_task(client.get(prebuffering["playback_url"]))
    clock = asyncio.get_running_loop()
    async with client.get(streaming["playback_url"]) as resp:
        await resp.content.readexactly(PACKET_SIZE)
        await engine.wait_for(lambda s: s.open_playback == 2)
        started = clock.time()
        await engine.stop()
        assert clock.time() - started < 1.0
        await asyncio.wait_for(read_all(resp), 1)
    async with await hung as resp:
        assert resp.status == 403  # its session ended before it started playing
    assert engine.stats.open_playback == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
