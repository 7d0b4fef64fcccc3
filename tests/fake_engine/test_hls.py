"""The fake engine's HLS: a live sliding-window playlist of segments cut at keyframes."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID, default_loop, infohash_of
from acemux.fake_engine.hls import WINDOW, HlsTimeline
from acemux.streaming.ts import PACKET_SIZE
from tests.ffmpeg import decode_bytes, decode_url, needs_ffmpeg
from tests.tspackets import pids

from .conftest import MakeEngine
from .helpers import OTHER_ID, start_stream

HEX32 = "[0-9a-f]{32}"


async def start_hls(client: aiohttp.ClientSession, engine, content_id: str = DEMO_CONTENT_ID):
    query = {"format": "json", "id": content_id, "pid": "test-pid"}
    async with client.get(f"{engine.url}/ace/manifest.m3u8", params=query) as resp:
        body = await resp.json()
    assert body["error"] is None, body
    return body["response"]


async def read_playlist(client: aiohttp.ClientSession, url: str) -> tuple[str, list[str]]:
    async with client.get(url) as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
    return text, [line for line in text.splitlines() if not line.startswith("#")]


def test_sample_cuts_into_two_second_segments_that_start_at_keyframes():
    line = HlsTimeline(default_loop())
    assert line.per_loop == 4 and line.target_duration == 2
    assert [line.duration(n) for n in range(5)] == [2.0] * 5
    for n in (0, 3, 4):  # within a loop, across the seam, in the next loop
        data = line.segment(n)
        assert len(data) % PACKET_SIZE == 0
        assert pids(data[: 3 * PACKET_SIZE]) == [0, 4096, 256]
        assert data[2 * PACKET_SIZE + 5] & 0x40, "the third packet starts a keyframe"


async def test_manifest_starts_a_session_whose_playlist_lists_engine_segments(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=1.0)
    r = await start_hls(client, engine)
    infohash = infohash_of(DEMO_CONTENT_ID)
    assert re.fullmatch(rf"{engine.url}/ace/m/{infohash}/{HEX32}\.m3u8", r["playback_url"])
    assert engine.stats.getstream_calls == 1
    text, urls = await read_playlist(client, r["playback_url"])
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n")
    assert re.findall(r"^#EXTINF:([\d.]+),$", text, re.M) == ["2.000000"] * WINDOW
    first = int(re.search(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)$", text, re.M).group(1))
    assert urls == [f"{engine.url}/ace/c/{infohash}/{n}.ts" for n in range(first, first + WINDOW)]
    data = bytearray()
    for url in urls:
        async with client.get(url) as resp:
            assert resp.status == 200 and resp.content_type == "video/mp2t"
            data += await resp.read()
    assert await decode_bytes(bytes(data)) == (0, "")


async def test_window_slides_with_the_live_timeline(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=20.0)  # 2-s segments every 0.1 s
    r = await start_hls(client, engine)
    _, urls = await read_playlist(client, r["playback_url"])
    async with asyncio.timeout(5):
        while (later := (await read_playlist(client, r["playback_url"]))[1]) == urls:
            pass
    assert later[0] != urls[0] and urls[-1] in later[:-1]


async def test_a_new_session_retires_the_hls_one(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    r = await start_hls(client, engine)
    _, urls = await read_playlist(client, r["playback_url"])
    await start_stream(client, engine)  # a TS getstream for the same content
    async with client.get(r["playback_url"]) as resp:
        assert resp.status == 403
    async with client.get(f"{r['command_url']}?method=stop") as resp:
        assert (await resp.json())["error"] == "unknown playback session id"
    # Segments of a content with no session at all are gone.
    other = await start_hls(client, engine, OTHER_ID)
    _, other_urls = await read_playlist(client, other["playback_url"])
    async with client.get(f"{other['command_url']}?method=stop") as resp:
        assert (await resp.json())["response"] == "ok"
    async with client.get(other_urls[0]) as resp:
        assert resp.status == 404


async def test_unknown_content_fails_like_getstream(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine()
    engine.faults.unknown_ids = {OTHER_ID}
    query = {"format": "json", "id": OTHER_ID}
    async with client.get(f"{engine.url}/ace/manifest.m3u8", params=query) as resp:
        assert await resp.json() == {"response": None, "error": "failed to load content"}


@needs_ffmpeg
async def test_ffmpeg_plays_the_engines_hls(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=1.0)
    r = await start_hls(client, engine)
    assert await decode_url(r["playback_url"], 4) == (0, "")
