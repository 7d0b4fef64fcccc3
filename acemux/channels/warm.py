"""Warm channels: favourites kept tuned with no viewers, so switching to one costs no prebuffer.

Each warm channel is held like one more viewer (one engine session, its ring
filling), so a viewer who comes gets recent data from a keyframe at once, as a
joiner of a playing channel does. They are bounded by `warm_channels_max`,
start only on an engine with room, and give their slot up when a viewer's
channel needs it (see make_room, which the registry awaits before it opens a
channel); a warm channel that ended or yielded is tried again later. A warm
channel left on a backup source is retuned to its preferred one while nobody
watches it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from acemux.channels.catalogue import Channel, ChannelCatalogue
from acemux.channels.failover import SourcePlan
from acemux.config import Settings
from acemux.engine.pool import EnginePool
from acemux.errors import AcemuxError, ShuttingDown
from acemux.streaming.key import ChannelKey
from acemux.streaming.registry import ChannelRegistry
from acemux.streaming.session import ChannelSession
from acemux.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0  # a warm channel that could not start, ended or yielded waits this long
YIELD_REASON = "warm channel yields its engine slot to a viewer's channel"


class WarmChannels:
    def __init__(
        self,
        settings: Settings,
        registry: ChannelRegistry,
        pool: EnginePool,
        catalogue: ChannelCatalogue,
        plan_for: Callable[[Channel], Callable[[], SourcePlan]],
        refresh: Callable[[], Awaitable[object]],
    ) -> None:
        self.slugs = settings.warm_channel_slugs[: settings.warm_channels_max]
        self._settings = settings
        self._registry = registry
        self._pool = pool
        self._catalogue = catalogue
        self._plan_for = plan_for
        self._refresh = refresh
        self._held: dict[str, ChannelSession] = {}
        self._tasks: list[asyncio.Task] = []
        self.yielded = 0

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep(slug), name=f"warm:{slug}") for slug in self.slugs
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []

    def held(self, slug: str) -> ChannelSession | None:
        return self._held.get(slug)

    def _room(self) -> bool:
        engines = any(m.healthy and not m.full for m in self._pool.members)
        return engines and len(self._registry) < self._settings.max_channels

    async def _keep(self, slug: str) -> None:
        """Hold the channel while it plays; start it again after it ends or yields."""
        while True:
            await self._refresh()
            channel = self._catalogue.get(slug)
            if channel is None:
                log.warning("warm channel %s: no channel has that slug (yet)", slug)
            elif self._room():
                retune = False
                try:
                    async with self._registry.channel(
                        channel.key, self._plan_for(channel)
                    ) as session:
                        log.info("warm channel %s: tuned", slug)
                        self._held[slug] = session
                        retune = await self._hold(slug, session)
                except ShuttingDown:
                    return
                except AcemuxError as err:
                    log.warning("warm channel %s: %s", slug, err.message)
                except Exception:  # never a silent end: log it and try again later
                    log.exception("warm channel %s failed", slug)
                finally:
                    self._held.pop(slug, None)
                if retune:
                    continue  # at once, on the preferred source
            await asyncio.sleep(RETRY_SECONDS)

    async def _hold(self, slug: str, session: ChannelSession) -> bool:
        """Until the session ends (False), or it is closed to be retuned (True).

        A warm channel left on a backup source is retuned once its preferred
        source is out of back-off, while nobody watches it: that costs no one.
        """
        while True:
            try:
                async with asyncio.timeout(self._settings.warm_channels_retune_seconds):
                    await session.wait_closed()
                    return False
            except TimeoutError:
                plan = session.sources
                if plan is not None and not plan.on_preferred and session.refs <= 1:
                    log.info("warm channel %s: back to its preferred source", slug)
                    await session.close("warm channel retuned to its preferred source")
                    return True

    async def make_room(self, key: ChannelKey) -> None:
        """A channel is about to open: when engines or channels are full, a warm one yields."""
        if not self._held or self._room():
            return
        for slug, session in list(self._held.items()):
            # Only the warm hold itself: a channel viewers watch is theirs now.
            if session.key != key and session.refs <= 1 and not session.closing:
                log.info("warm channel %s: yielding its engine slot", slug)
                self.yielded += 1
                await session.close(YIELD_REASON)
                return
