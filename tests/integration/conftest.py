"""Real sockets on 127.0.0.1: an acemux server in front of a given engine, per test."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from acemux.config import Settings
from acemux.web.app import AcemuxServer


def make_settings(engine_url: str, **overrides) -> Settings:
    values = dict(host="127.0.0.1", port=0, engine=engine_url, grace_seconds=0.3)
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_proxy(engine_url: str, **overrides) -> AsyncIterator[AcemuxServer]:
    async with AcemuxServer(make_settings(engine_url, **overrides)) as server:
        yield server
