"""Guide sources: configured (`--guides`) or named by a playlist's header, cached like playlists.

They share the playlists' fetching (size limit, timeouts, refresh, last good
copy, status). A guide may come gzipped (`.xml.gz` or not: the bytes say);
the limit holds for the unpacked size too. A header may only name http(s)
guides: a playlist from elsewhere must not make acemux read local files.
Parsing and writing big guides runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

from acemux.config import PlaylistSpec, Settings
from acemux.guide.xmltv import Guide, GuideError, render
from acemux.playlists.sources import (
    CachedSource,
    FetchError,
    PlaylistSources,
    PlaylistUnavailable,
)
from acemux.tuner.lineup import Channel

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
RENDERED_KEPT = 8  # filtered documents kept (one per playlist and channel set)


class GuideSource(CachedSource):
    kind = "guide"

    def __init__(self, spec: PlaylistSpec, settings: Settings, playlist: str | None = None):
        super().__init__(spec, settings.guide_refresh_seconds, settings.guide_max_bytes)
        self.playlist = playlist  # the playlist whose header names it (None: configured)
        self.guide: Guide | None = None
        self.version = 0  # counts the copies taken, so filtered documents know theirs

    async def _accept(self, data: bytes) -> str:
        if data.startswith(GZIP_MAGIC):
            data = gunzip(data, self._max_bytes)
        try:
            self.guide = await asyncio.to_thread(Guide, data)
        except GuideError as err:
            raise FetchError(str(err)) from err
        self.version += 1
        return self.guide.summary

    def describe(self) -> dict:
        guide = self.guide
        return {
            **super().describe(),
            "playlist": self.playlist,
            "channels": len(guide.channels) if guide is not None else None,
        }


def gunzip(data: bytes, max_bytes: int) -> bytes:
    unpack = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = unpack.decompress(data, max_bytes + 1)
    except zlib.error as err:
        raise FetchError(f"broken gzip: {err}") from err
    if len(out) > max_bytes:
        raise FetchError(f"unpacks to more than the limit of {max_bytes} bytes")
    if not unpack.eof:
        raise FetchError("truncated gzip")
    return out


class GuideSources:
    """Every guide acemux knows, and the filtered documents it serves."""

    def __init__(self, settings: Settings, playlists: PlaylistSources) -> None:
        self._settings = settings
        self._playlists = playlists
        self._configured = [GuideSource(spec, settings) for spec in settings.guide_specs]
        self._named: dict[str, GuideSource] = {}  # by URL, from playlist headers
        self._rendered: dict[tuple, bytes] = {}

    async def document(self, playlists: list[str], channels: list[Channel]) -> bytes:
        """The XMLTV of these channels, from the guides configured or named by these playlists."""
        sources = await self._ready(playlists)
        key = (
            tuple((id(s), s.version) for s in sources),  # sources live as long as acemux
            tuple((c.tvg_id, c.number) for c in channels),
        )
        if key not in self._rendered:
            guides = [s.guide for s in sources if s.guide is not None]
            self._rendered[key] = await asyncio.to_thread(render, guides, channels)
            while len(self._rendered) > RENDERED_KEPT:
                del self._rendered[next(iter(self._rendered))]
        return self._rendered[key]

    async def _ready(self, playlists: list[str]) -> list[GuideSource]:
        """The guides of these playlists (and the configured ones) that have a copy."""
        sources = list(self._configured)
        for name in playlists:
            sources += await self._named_by(name)
        http = self._playlists.http
        results = await asyncio.gather(*(s.ensure(http) for s in sources), return_exceptions=True)
        ready = []
        for source, result in zip(sources, results):
            if isinstance(result, PlaylistUnavailable):
                continue  # never fetched yet: its status says why
            if isinstance(result, BaseException):
                raise result
            ready.append(source)
        return ready

    async def _named_by(self, playlist: str) -> list[GuideSource]:
        try:
            entries = await self._playlists.playlist(playlist)
        except PlaylistUnavailable:
            return []
        sources = []
        for number, url in enumerate(entries.guide_urls if entries else [], start=1):
            if not url.lower().startswith(("http://", "https://")):
                log.warning("playlist %s names guide %r: only http(s) is read", playlist, url)
                continue
            source = self._named.get(url)
            if source is None:
                spec = PlaylistSpec(f"{playlist}.url-tvg.{number}", url)
                source = self._named[url] = GuideSource(spec, self._settings, playlist)
            sources.append(source)
        return sources

    def describe(self) -> list[dict]:
        return [s.describe() for s in [*self._configured, *self._named.values()]]

    async def close(self) -> None:
        for source in [*self._configured, *self._named.values()]:
            await source.cancel()
