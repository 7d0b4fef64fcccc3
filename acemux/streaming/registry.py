"""The one registry of live channels: content key -> ChannelSession.

Requests, the status API, metrics and shutdown all read this same registry, so
they cannot disagree about what is playing.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable

from acemux.config import Settings
from acemux.engine.pool import EnginePool
from acemux.errors import BadRequest, LimitReached, ShuttingDown
from acemux.profiles.recipes import Profile, ProfileCatalog
from acemux.profiles.upstream import ProfileUpstream
from acemux.streaming.events import ChannelEvents
from acemux.streaming.key import ChannelKey
from acemux.streaming.memory import MemoryTrimmer
from acemux.streaming.session import ChannelSession

if TYPE_CHECKING:
    from acemux.channels.failover import SourcePlan

log = logging.getLogger(__name__)


class ChannelRegistry:
    def __init__(
        self, settings: Settings, pool: EnginePool, events: ChannelEvents | None = None
    ) -> None:
        self._settings = settings
        self.pool = pool
        self.events = events or ChannelEvents()
        self._channels: dict[ChannelKey, ChannelSession] = {}
        self._closing: set[ChannelSession] = set()
        self.trimmer = MemoryTrimmer()  # closed channels' memory goes back to the system
        self._shutting_down = False
        self.profiles = ProfileCatalog(settings.profiles)
        # Awaited before a new channel opens: warm channels give up their slot here.
        self.make_room: Callable[[ChannelKey], Awaitable[None]] | None = None

    @asynccontextmanager
    async def channel(
        self, key: ChannelKey, plan: "Callable[[], SourcePlan] | None" = None
    ) -> AsyncIterator[ChannelSession]:
        """Hold a started channel for the body: shared with every other request for it.

        The first request creates the channel and its engine session; later ones
        reuse it. On exit the hold is released and the last release starts the
        grace period. `plan` makes a named channel's source plan.
        """
        if self.make_room is not None and key not in self._channels:
            await self.make_room(key)
        session = self._hold(key, plan)
        try:
            await session.wait_started()
            yield session
        finally:
            session.release()

    def check_room(self, key: ChannelKey) -> ChannelSession | None:
        """Refuse as a new viewer would be refused (shutting down, a limit), taking nothing.

        Returns the key's open channel, if any. A HEAD answers with this, so a
        player's probe sees the 503 its GET would get.
        """
        if self._shutting_down:
            raise ShuttingDown("acemux is shutting down")
        session = self._channels.get(key)
        if session is None:
            if len(self._channels) >= self._settings.max_channels:
                raise LimitReached(
                    f"channel limit reached ({self._settings.max_channels} channels playing)"
                )
        elif session.refs >= self._settings.max_clients_per_channel:
            raise LimitReached(
                f"viewer limit reached for this channel ({self._settings.max_clients_per_channel})"
            )
        return session

    def _hold(self, key: ChannelKey, plan: "Callable[[], SourcePlan] | None") -> ChannelSession:
        session = self.check_room(key)
        if session is None:
            # A profile reads its raw channel (which gets the plan); no sources of its own.
            upstream = self._profile_upstream(key, plan) if key.profile else None
            sources = plan() if plan is not None and upstream is None else None
            session = ChannelSession(
                key, self.pool, self._settings, self._forget, self.events, sources,
                on_closed=self._closed, upstream=upstream,
            )
            self._channels[key] = session
            session.start()
            log.info("channel %s opened", key.name)
        session.hold()
        return session

    def check_profile(self, key: ChannelKey) -> Profile | None:
        """The key's profile (None: the raw channel); BadRequest when there is no such profile."""
        if not key.profile:
            return None
        profile = self.profiles.get(key.profile)
        if profile is None:
            known = ", ".join(self.profiles.names())
            raise BadRequest(f"unknown profile {key.profile!r} (this acemux has: {known})")
        return profile

    def _profile_upstream(
        self, key: ChannelKey, plan: "Callable[[], SourcePlan] | None"
    ) -> ProfileUpstream:
        """A profile's channel reads ffmpeg over the raw channel (see acemux/profiles)."""
        profile = self.check_profile(key)
        assert profile is not None
        return ProfileUpstream(self, key, profile, self._settings, plan)

    def _forget(self, session: ChannelSession) -> None:
        """Called by a closing session: new requests for its key start a fresh one."""
        if self._channels.get(session.key) is session:
            del self._channels[session.key]
        # Kept until closed so shutdown can wait for its engine stop call; a
        # closed one is let go at once (its on_closed), buffer and all.
        self._closing.add(session)

    def _closed(self, session: ChannelSession) -> None:
        self._closing.discard(session)
        self.trimmer.channel_closed(last=not self._channels and not self._closing)

    def find(self, content_id: str) -> ChannelSession | None:
        """The channel playing `content_id` or infohash (with any extra parameters).

        Profiles of it are not it: they are found by their full key name.
        """
        content_id = content_id.lower()
        for key, session in self._channels.items():
            if key.profile:
                continue
            if key.value == content_id or (session.info and session.info.infohash == content_id):
                return session
        return None

    def profiles_of(self, session: ChannelSession) -> list[ChannelSession]:
        """The profile channels made from a raw channel."""
        return [s for k, s in self._channels.items() if k.profile and k.raw == session.key]

    def sessions(self) -> list[ChannelSession]:
        return list(self._channels.values())

    def __len__(self) -> int:
        return len(self._channels)

    async def close_all(self, reason: str = "acemux shutting down") -> None:
        self._shutting_down = True
        sessions = list(self._channels.values()) + list(self._closing)
        await asyncio.gather(*(s.close(reason) for s in sessions), return_exceptions=True)
        self.trimmer.cancel()
