"""What viewers receive through acemux decodes cleanly in real ffmpeg."""

from __future__ import annotations

import asyncio

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.integration.conftest import running_proxy

pytestmark = [pytest.mark.e2e, needs_ffmpeg]


async def test_three_ffmpeg_viewers_decode_one_upstream_without_errors():
    async with FakeEngine(rate=2.0) as engine:
        async with running_proxy(engine.url) as proxy:
            url = f"{proxy.url}/ace/getstream?id={DEMO_CONTENT_ID}"
            results = await asyncio.gather(*(decode_url(url, 5) for _ in range(3)))
            for code, errors in results:
                assert code == 0 and errors == "", errors
            assert engine.stats.getstream_calls == 1
            assert engine.stats.playback_connections == 1
