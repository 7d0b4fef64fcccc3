"""Configured playlist sources (local files, HTTP(S) URLs), fetched and cached.

Only sources named in the configuration are ever read: there is no endpoint
that fetches a URL a client names. A source is fetched when it is asked for
and its copy is older than `playlist_refresh_seconds`, with a size limit and
timeouts. When a fetch fails the last good copy is served, and the status
says so; a source that never worked answers 502.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from acemux import __version__
from acemux.config import PlaylistSpec, Settings
from acemux.errors import AcemuxError
from acemux.playlists.entries import Playlist, read_entries
from acemux.playlists.m3u import M3UTemplate, parse
from acemux.tasks import cancel_and_wait

log = logging.getLogger(__name__)

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
# A refresh that takes longer than this is finished in the background while
# the request gets the copy in hand.
REFRESH_WAIT_SECONDS = 5.0
RETRY_SECONDS = 30.0  # a failed source is tried again after this, at most
READ_SIZE = 64 * 1024


class PlaylistUnavailable(AcemuxError):
    """A configured playlist could not be read, and no earlier copy exists."""

    status = 502
    code = "playlist_unavailable"


class FetchError(Exception):
    """Why a source could not be read (its message goes to the status API)."""


class CachedSource:
    """One configured source fetched and cached, its last good copy kept.

    Subclasses say what the bytes must look like and what to keep of them
    (`_accept`); the fetching, refresh timing and status are shared.
    """

    kind = "source"  # what the logs and errors call it

    def __init__(self, spec: PlaylistSpec, refresh_seconds: float, max_bytes: int) -> None:
        self.spec = spec
        self._refresh_seconds = refresh_seconds
        self._max_bytes = max_bytes
        self._has_copy = False
        self._size = 0
        self._due_at = 0.0  # monotonic time of the next fetch
        self._refreshing: asyncio.Task | None = None
        self.last_fetch_at: float | None = None  # wall time of the last attempt
        self.last_success_at: float | None = None
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stale(self) -> bool:
        """A copy is being served although the latest fetch failed."""
        return self._has_copy and self.last_error is not None

    async def ensure(self, http: aiohttp.ClientSession) -> None:
        """Fetch first when the copy in hand is due for a refresh; raise when there is none."""
        if time.monotonic() >= self._due_at:
            if self._refreshing is None:
                self._refreshing = asyncio.create_task(
                    self._refresh(http), name=f"{self.kind}:{self.name}"
                )
            if not self._has_copy:
                # Shielded: a client that hangs up does not cancel the others' fetch.
                await asyncio.shield(self._refreshing)
            else:
                await asyncio.wait({self._refreshing}, timeout=REFRESH_WAIT_SECONDS)
        if not self._has_copy:
            raise PlaylistUnavailable(f"{self.kind} {self.name} is unavailable: {self.last_error}")

    async def _accept(self, data: bytes) -> str:
        """Keep what the fetched bytes hold; raise FetchError when they are unusable.

        Returns a short summary for the log.
        """
        raise NotImplementedError

    async def _refresh(self, http: aiohttp.ClientSession) -> None:
        self.last_fetch_at = time.time()
        try:
            if self.spec.remote:
                data = await _fetch_url(http, self.spec.source, self._max_bytes)
            else:
                data = await asyncio.to_thread(_read_file, self.spec.source, self._max_bytes)
            summary = await self._accept(data)
        except (FetchError, aiohttp.ClientError, OSError, TimeoutError) as err:
            self.last_error = str(err) or type(err).__name__
            self._due_at = time.monotonic() + min(self._refresh_seconds, RETRY_SECONDS)
            log.warning(
                "%s %s (%s): %s%s",
                self.kind,
                self.name,
                self.display_source,
                self.last_error,
                "; serving the last good copy" if self._has_copy else "",
            )
        else:
            self._has_copy = True
            self._size = len(data)
            self.last_error = None
            self.last_success_at = time.time()
            self._due_at = time.monotonic() + self._refresh_seconds
            log.info("%s %s: %d bytes, %s", self.kind, self.name, len(data), summary)
        finally:
            self._refreshing = None

    @property
    def display_source(self) -> str:
        """The source without credentials or query (provider URLs often carry a password)."""
        if not self.spec.remote:
            return self.spec.source
        parts = urlsplit(self.spec.source)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}{'?…' if parts.query else ''}"

    def describe(self) -> dict:
        return {
            "name": self.name,
            "source": self.display_source,
            "kind": "url" if self.spec.remote else "file",
            "last_fetch_at": self.last_fetch_at,
            "last_success_at": self.last_success_at,
            "last_error": self.last_error,
            "stale": self.stale,
            "bytes": self._size if self._has_copy else None,
        }

    async def cancel(self) -> None:
        task = self._refreshing
        if task is not None:
            await cancel_and_wait(task)


class PlaylistSource(CachedSource):
    """An M3U source: kept as a template to re-render, and read as entries."""

    kind = "playlist"

    def __init__(self, spec: PlaylistSpec, refresh_seconds: float, max_bytes: int) -> None:
        super().__init__(spec, refresh_seconds, max_bytes)
        self._template: M3UTemplate | None = None
        self._playlist: Playlist | None = None

    async def _accept(self, data: bytes) -> str:
        _check_playlist(data)
        self._template = parse(data)
        self._playlist = read_entries(data)
        return f"{self._template.links} stream links"

    async def template(self, http: aiohttp.ClientSession) -> M3UTemplate:
        """The parsed playlist, fetched first when the copy in hand is due for a refresh."""
        await self.ensure(http)
        assert self._template is not None
        return self._template

    async def playlist(self, http: aiohttp.ClientSession) -> Playlist:
        """The same copy read as entries (titles, attributes, links) and header."""
        await self.ensure(http)
        assert self._playlist is not None
        return self._playlist

    def describe(self) -> dict:
        template = self._template
        return {
            **super().describe(),
            "path": f"/playlist/{self.name}.m3u",
            "links": template.links if template is not None else None,
        }


class PlaylistSources:
    """Every configured source by name, and the HTTP client that fetches the remote ones."""

    def __init__(self, settings: Settings) -> None:
        self._sources = {
            spec.name: PlaylistSource(
                spec, settings.playlist_refresh_seconds, settings.playlist_max_bytes
            )
            for spec in settings.playlist_specs
        }
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._http = aiohttp.ClientSession(
            timeout=FETCH_TIMEOUT, headers={"User-Agent": f"acemux/{__version__}"}
        )

    async def close(self) -> None:
        for source in self._sources.values():
            await source.cancel()
        if self._http is not None:
            await self._http.close()

    async def template(self, name: str) -> M3UTemplate | None:
        """The named playlist, or None when no source has that name."""
        source = self._sources.get(name)
        if source is None:
            return None
        assert self._http is not None, "open() first"
        return await source.template(self._http)

    async def playlist(self, name: str) -> Playlist | None:
        """The named playlist read as entries, or None when no source has that name."""
        source = self._sources.get(name)
        if source is None:
            return None
        return await source.playlist(self.http)

    @property
    def names(self) -> list[str]:
        """The configured playlists' names, in configuration order."""
        return list(self._sources)

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client that fetches remote sources (guides use it too)."""
        assert self._http is not None, "open() first"
        return self._http

    def describe(self) -> list[dict]:
        return [source.describe() for source in self._sources.values()]


async def _fetch_url(http: aiohttp.ClientSession, url: str, max_bytes: int) -> bytes:
    async with http.get(url) as resp:
        if resp.status != 200:
            raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".strip())
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise FetchError(f"larger than the limit of {max_bytes} bytes")
        data = bytearray()
        async for chunk in resp.content.iter_chunked(READ_SIZE):
            data += chunk
            if len(data) > max_bytes:
                raise FetchError(f"larger than the limit of {max_bytes} bytes")
    return bytes(data)


def _read_file(path: str, max_bytes: int) -> bytes:
    with Path(path).expanduser().open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FetchError(f"larger than the limit of {max_bytes} bytes")
    return data


def _check_playlist(data: bytes) -> None:
    """Refuse what is surely no playlist, so an error page never replaces a good copy."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise FetchError("empty playlist")
    if head.startswith(b"<"):
        raise FetchError("not an M3U playlist (HTML or XML)")
