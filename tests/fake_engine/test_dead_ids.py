"""Per-id dead sources: an id that falls silent (0 peers) and one that stalls for good."""

from __future__ import annotations

import asyncio

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.streaming.ts import PACKET_SIZE

from .conftest import MakeEngine
from .helpers import OTHER_ID, start_stream


async def stat(client: aiohttp.ClientSession, url: str) -> dict:
    async with client.get(url) as resp:
        return (await resp.json())["response"]


async def test_a_silent_id_resolves_sends_nothing_and_reports_no_peers(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=8, silent_ids=[OTHER_ID.upper()])
    dead = await start_stream(client, engine, OTHER_ID)
    alive = await start_stream(client, engine, DEMO_CONTENT_ID)
    async with client.get(dead["playback_url"]) as resp:
        assert resp.status == 200
        try:
            async with asyncio.timeout(0.5):
                data = await resp.content.read(PACKET_SIZE)
        except TimeoutError:
            data = b""
    assert data == b""
    assert (await stat(client, dead["stat_url"]))["peers"] == 0
    assert (await stat(client, alive["stat_url"]))["peers"] > 0


async def test_an_open_connection_falls_silent_when_its_id_is_switched_dead(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=8)
    r = await start_stream(client, engine)
    async with client.get(r["playback_url"]) as resp:
        await resp.content.readexactly(100 * PACKET_SIZE)
        engine.faults.silent_ids = {DEMO_CONTENT_ID}
        sent = engine.stats.bytes_sent
        await asyncio.sleep(0.3)
        # What was in flight may still arrive; nothing new is sent.
        assert engine.stats.bytes_sent - sent < 64 * 1024
        await asyncio.sleep(0.3)
        assert engine.stats.bytes_sent - sent < 64 * 1024


async def test_a_stalling_id_sends_for_its_seconds_then_nothing_on_each_connection(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=1, stall_ids={DEMO_CONTENT_ID: 0.5})
    r = await start_stream(client, engine)
    for _ in range(2):  # every new connection gets its N seconds again
        async with client.get(r["playback_url"]) as resp:
            await resp.content.readexactly(10 * PACKET_SIZE)
            await engine.stats.wait_for(lambda s: s.bytes_sent > 0)
            await asyncio.sleep(0.8)
            sent = engine.stats.bytes_sent
            await asyncio.sleep(0.4)
            assert engine.stats.bytes_sent == sent
    assert engine.faults.to_json()["stall_ids"] == {DEMO_CONTENT_ID: 0.5}
