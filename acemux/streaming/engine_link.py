"""EngineLink: the engine side of one channel.

Which engine carries the channel, the session it started there (getstream),
and starting, moving and stopping that session. The ChannelSession reads the
stream through it (open) and decides when to reconnect; this class decides
on which engine, and keeps the pool's channel counts right.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable

from acemux.engine.api import StreamInfo
from acemux.engine.pool import EngineMember, EnginePool
from acemux.errors import AcemuxError
from acemux.logs import ids
from acemux.streaming.key import ChannelKey

if TYPE_CHECKING:
    import aiohttp

    from acemux.engine.stream_reader import StreamConnection
    from acemux.channels.failover import SourcePlan

log = logging.getLogger(__name__)


class EngineLink:
    def __init__(self, key: ChannelKey, pool: EnginePool, sources: "SourcePlan | None") -> None:
        self._key = key
        self._pool = pool
        self._sources = sources  # a named channel's sources; None: the key is the source
        self.member: EngineMember | None = None  # the engine carrying the channel
        self.info: StreamInfo | None = None  # the engine session (None between sessions)
        self.source: ChannelKey | None = None  # what the engine session plays
        self.sessions = 0  # engine sessions started
        self._leaving: EngineMember | None = None  # an engine being replaced: go elsewhere
        self._last_resort = False  # the engine was taken while every engine was marked down
        self._starting: asyncio.Future | None = None  # a getstream in flight (see stop)

    @property
    def leaving(self) -> bool:
        """The current engine is being replaced: the next reconnect starts elsewhere."""
        return self._leaving is self.member

    def leave(self) -> None:
        self._leaving = self.member

    async def start(self, reconnecting: bool = False, move: bool = False) -> None:
        """Start a new engine session (stopping the old one), on another engine when needed."""
        await self.stop()
        member = self.member
        if (
            member is None
            or move
            or not member.healthy
            or member.client.breaker.failures
            or member is self._leaving
        ):
            # No engine yet, or this one failed the channel (or is being replaced):
            # take the best one (another healthy engine if there is one).
            self.member = self._pool.choose(avoid=member, reconnecting=reconnecting)
            self._last_resort = not self.member.healthy
            if member is not None:
                self._pool.release(member)
        client = self.member.client

        def start(source: ChannelKey) -> Awaitable[StreamInfo]:
            return client.start_stream(
                source.selector(), source.extra_params(), fail_fast=not reconnecting
            )

        async def start_session() -> tuple[ChannelKey | None, StreamInfo]:
            if self._sources is None:
                return self.source, await start(self._key)
            return await self._sources.start(start)  # a named channel: its sources in turn

        # Shielded: a channel closed while the engine answers still learns the
        # session the engine started, so that stop() can stop it.
        self._starting = asyncio.ensure_future(start_session())
        self.source, self.info = await asyncio.shield(self._starting)
        self._starting = None
        self.sessions += 1
        log.info(
            "channel %s: engine session %s on %s",
            self._key.name,
            self.info.playback_session_id,
            self.member.url,
            extra=ids(self._key.name),
        )

    def start_failed(self, err: AcemuxError) -> AcemuxError:
        """The error a failed first start gives viewers (saying so when every engine was down)."""
        return self._pool.tried_anyway(self.member, err) if self._last_resort else err

    async def open(self) -> "StreamConnection | aiohttp.ClientResponse":
        """The session's playback stream; an AcemuxError when it cannot be opened."""
        if self.info is None or self.member is None:
            raise AcemuxError("no engine session")
        return await self.member.client.open_playback(self.info.playback_url)

    async def stop(self) -> None:
        """Stop the engine session, also one whose getstream is still being answered."""
        starting, self._starting = self._starting, None
        if starting is not None:  # the reader was cancelled while the engine answered
            try:
                self.source, self.info = await starting  # bounded by the API timeout
            except AcemuxError:
                pass
        info, self.info = self.info, None
        if info is not None and self.member is not None:
            await self.member.client.stop(info.command_url)

    async def stats(self) -> dict | None:
        """The engine's stat_url figures for the session (None between sessions)."""
        info, member = self.info, self.member
        if info is None or member is None:
            return None
        try:
            return await member.client.stat(info.stat_url)
        except AcemuxError as err:
            return {"error": err.message}

    def release(self) -> None:
        """The channel ended: its engine carries one channel fewer."""
        if self.member is not None:
            self._pool.release(self.member)
