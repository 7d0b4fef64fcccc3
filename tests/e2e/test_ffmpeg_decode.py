"""What viewers receive through acemux decodes cleanly in real ffmpeg."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from tests.integration.conftest import running_proxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed"),
]


async def ffmpeg_decode(url: str, seconds: float, timeout: float = 30) -> tuple[int, str]:
    """Decode `seconds` of media from `url`; returns (exit code, error output)."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", str(seconds), "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            _, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, stderr.decode(errors="replace")


async def test_three_ffmpeg_viewers_decode_one_upstream_without_errors():
    async with FakeEngine(rate=2.0) as engine:
        async with running_proxy(engine.url) as proxy:
            url = f"{proxy.url}/ace/getstream?id={DEMO_CONTENT_ID}"
            results = await asyncio.gather(*(ffmpeg_decode(url, 5) for _ in range(3)))
            for code, errors in results:
                assert code == 0 and errors == "", errors
            assert engine.stats.getstream_calls == 1
            assert engine.stats.playback_connections == 1
