"""Real ffmpeg reads the looped stream: it must decode without a single error."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp
import pytest

from acemux.fake_engine import AC3_CONTENT_ID, DEMO_CONTENT_ID
from acemux.fake_engine.tsloop import ac3_loop, default_loop

from .conftest import MakeEngine
from .helpers import OTHER_ID, start_stream

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg"),
]


async def run(*args: str, timeout: float = 30) -> tuple[str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_ffmpeg_decodes_12_s_from_a_playback_url(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=8, start_mode="start_of_file")  # from a keyframe: a clean decode
    r = await start_stream(client, engine)
    _, errors = await run(
        "ffmpeg", "-nostdin", "-v", "error", "-i", r["playback_url"], "-t", "12", "-f", "null", "-"
    )
    assert errors == ""
    assert engine.stats.playback_connections == 1
    assert engine.stats.playback_headers[-1]["User-Agent"].startswith("Lavf")


# Each sample's frames per loop: 200 video, and 375 AAC or 250 AC-3 audio frames.
@pytest.mark.parametrize("sample, frames", [(default_loop, 200 + 375), (ac3_loop, 200 + 250)])
async def test_ffmpeg_decodes_three_loops_seamlessly(tmp_path: Path, sample, frames) -> None:
    ts = sample()
    path = tmp_path / "looped.ts"
    path.write_bytes(b"".join(ts.loop_bytes(k) for k in range(4)))
    _, errors = await run(
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", "25", "-f", "null", "-"
    )
    assert errors == ""

    # Every packet of every stream starts exactly where the previous one ended.
    out, _ = await run(
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "packet=stream_index,dts,duration",
        "-of",
        "csv=p=0",
        str(path),
    )
    last: dict[str, tuple[int, int]] = {}
    count = 0
    for line in out.split():
        stream, dts, duration = line.strip(",").split(",")
        if stream in last:
            assert int(dts) == sum(last[stream]), f"stream {stream} jumps at dts {dts}"
        last[stream] = (int(dts), int(duration))
        count += 1
    assert count == 4 * frames


async def _probe_codecs(url: str) -> list[str]:
    out, _ = await run(
        "ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", url
    )
    return sorted(set(out.split()))  # a stream is listed under its program too


async def test_ac3_channels_carry_ac3_audio_and_others_aac(
    make_engine: MakeEngine, client: aiohttp.ClientSession
) -> None:
    engine = await make_engine(rate=8, ac3_ids=[OTHER_ID])
    cases = ((AC3_CONTENT_ID, "ac3"), (OTHER_ID, "ac3"), (DEMO_CONTENT_ID, "aac"))
    for content_id, audio in cases:
        r = await start_stream(client, engine, content_id)
        assert await _probe_codecs(r["playback_url"]) == sorted([audio, "h264"]), content_id

