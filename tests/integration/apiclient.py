"""Small helpers for tests that read acemux's JSON API."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import aiohttp


async def get_json(http: aiohttp.ClientSession, url: str, status: int = 200, **kwargs) -> dict:
    async with http.get(url, **kwargs) as resp:
        assert resp.status == status, await resp.text()
        return await resp.json()


async def poll_json(
    http: aiohttp.ClientSession,
    url: str,
    predicate: Callable[[dict], bool],
    timeout: float = 5.0,
    interval: float = 0.1,
) -> dict:
    """GET `url` until predicate(body) holds; for state that only time brings (bitrates)."""
    deadline = time.monotonic() + timeout
    while True:
        body = await get_json(http, url)
        if predicate(body):
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: condition not met in {timeout:g} s; last answer {body}")
        await asyncio.sleep(interval)
