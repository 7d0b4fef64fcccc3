"""The lineup of the configured playlists, built when asked for, remembered for look-ups.

Each request builds the lineup from the playlists' current copies (they are
cached and refreshed by their sources), so numbers follow a playlist as soon
as it changes. A playlist that cannot be read is left out of that lineup. The
last lineup built names the channels in the API and the dashboard.
"""

from __future__ import annotations

import asyncio
import logging

from acemux.playlists.entries import Playlist
from acemux.playlists.sources import PlaylistSources, PlaylistUnavailable
from acemux.tasks import cancel_and_wait
from acemux.tuner.lineup import Channel, Lineup

log = logging.getLogger(__name__)


class ChannelDirectory:
    def __init__(self, sources: PlaylistSources) -> None:
        self._sources = sources
        self._last = Lineup([])
        self._built = False
        self._warming: asyncio.Task | None = None

    async def lineup(self) -> Lineup:
        """Every channel of every playlist that can be read, numbered."""
        playlists: list[tuple[str, Playlist]] = []
        for name in self._sources.names:
            try:
                playlist = await self._sources.playlist(name)
            except PlaylistUnavailable as err:
                log.warning("lineup without playlist %s: %s", name, err.message)
                continue
            assert playlist is not None
            playlists.append((name, playlist))
        self._last = Lineup(playlists)
        self._built = True
        return self._last

    def warm(self) -> None:
        """Build a first lineup in the background, so the API names channels before any
        playlist or tuner was asked for; nothing waits for it."""
        if self._built or self._warming is not None or not self._sources.names:
            return
        self._warming = asyncio.create_task(self._warm(), name="lineup:warm")

    async def _warm(self) -> None:
        try:
            await self.lineup()
        except Exception:
            log.exception("first lineup failed")

    async def close(self) -> None:
        if self._warming is not None:
            await cancel_and_wait(self._warming)

    def known(self, content_id: str) -> Channel | None:
        """The channel of a content id, as the last lineup built named it."""
        return self._last.by_content(content_id)
