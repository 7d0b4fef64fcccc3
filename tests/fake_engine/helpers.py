"""Calls every fake-engine test makes."""

from __future__ import annotations

from typing import Any

import aiohttp

from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine

# A second valid content id, for tests that need two channels.
OTHER_ID = "0123456789abcdef0123456789abcdef01234567"


async def getstream(
    client: aiohttp.ClientSession,
    engine: FakeEngine,
    content_id: str = DEMO_CONTENT_ID,
    **params: str,
) -> dict[str, Any]:
    """The JSON body of a getstream call."""
    query = {"format": "json", "id": content_id, "pid": "test-pid", **params}
    async with client.get(f"{engine.url}/ace/getstream", params=query) as resp:
        assert resp.status == 200
        return await resp.json()


async def start_stream(
    client: aiohttp.ClientSession, engine: FakeEngine, content_id: str = DEMO_CONTENT_ID
) -> dict[str, Any]:
    """A successful getstream's `response` object."""
    body = await getstream(client, engine, content_id)
    assert body["error"] is None, body
    return body["response"]
