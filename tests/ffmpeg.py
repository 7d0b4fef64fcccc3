"""Run real ffmpeg on what acemux delivers and return what it complained about."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from typing import AsyncIterator

import pytest

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


async def _run(args: list[str], stdin: bytes | None, timeout: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin" if stdin is None else "-hide_banner", "-v", "error", *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            _, stderr = await proc.communicate(stdin)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, stderr.decode(errors="replace")


async def decode_url(url: str, seconds: float, timeout: float = 30) -> tuple[int, str]:
    """Decode `seconds` of media from `url`: (exit code, error output)."""
    return await _run(["-i", url, "-t", str(seconds), "-f", "null", "-"], None, timeout)


async def decode_bytes(data: bytes, timeout: float = 30) -> tuple[int, str]:
    """Decode a recorded MPEG-TS stream: (exit code, error output)."""
    return await _run(["-f", "mpegts", "-i", "pipe:0", "-f", "null", "-"], bytes(data), timeout)


@contextlib.asynccontextmanager
async def ffmpeg_reading(url: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """ffmpeg decoding `url` (a live stream) in the background for the block; killed after."""
    with tempfile.TemporaryFile() as errors:  # a file: a pipe nobody reads could fill and block
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-v", "error", "-i", url, "-f", "null", "-",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
