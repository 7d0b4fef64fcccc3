"""The named channels: from the configuration and from the playlists acemux reads.

A channel is a slug, a display name and an ordered list of sources (each a
ChannelKey: content id or infohash with its engine parameters). Playlist
entries that share a slug (their tvg-id, else tvg-name, else title, made a
slug) are one channel, their links its sources in playlist order; a
configured channel of the same slug replaces the playlists' one. Entries that
cannot be a channel source are reported per playlist, not fatal.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from acemux.channels.liveness import LivenessBook
from acemux.config import Settings
from acemux.errors import BadRequest, NotFound
from acemux.playlists.entries import Entry, Playlist
from acemux.playlists.m3u import link_in_line
from acemux.streaming.key import ChannelKey

log = logging.getLogger(__name__)

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")


def slugify(text: str) -> str:
    """Lower-cased, each run of characters other than a-z0-9 one '-'."""
    return _NOT_SLUG.sub("-", text.lower())


@dataclass(slots=True)
class Channel:
    slug: str
    name: str
    sources: list[ChannelKey]
    attrs: dict[str, str] = field(default_factory=dict)  # the first entry's (tvg-logo, …)
    origin: str = "config"  # "config" or the playlist names it came from

    @property
    def key(self) -> ChannelKey:
        """The registry key of the channel's one session (not an engine selector)."""
        return ChannelKey("channel", self.slug)


def entry_slug(entry: Entry) -> str:
    return slugify(entry.attr("tvg-id") or entry.attr("tvg-name") or entry.title)


def group_entries(
    playlists: list[tuple[str, Playlist]],
) -> tuple[dict[str, Channel], dict[str, list[str]]]:
    """Playlists (in order) → channels by slug, and per playlist what was skipped.

    Entries are grouped by their slug without leading or trailing dashes ("News
    24!" and "news 24" are one channel); the channel keeps its first entry's slug.
    """
    channels: dict[str, Channel] = {}  # by normalised name
    skipped: dict[str, list[str]] = {}
    seen: dict[tuple[str, ChannelKey], str] = {}  # (group, source) -> where it was first
    for name, playlist in playlists:
        notes = skipped.setdefault(name, list(playlist.skipped))
        for entry in playlist.entries:
            slug = entry_slug(entry)
            group = slug.strip("-")
            if not group:
                notes.append(f"line {entry.line}: no tvg-id, tvg-name or title to name it")
                continue
            try:
                key = ChannelKey.from_query(dict(entry.link.params), entry.link.path_id)
            except BadRequest as err:
                notes.append(f"line {entry.line}: {err.message}")
                continue
            where = f"{name} line {entry.line}"
            first = seen.setdefault((group, key), where)
            channel = channels.get(group)
            if first != where:
                notes.append(f"line {entry.line}: duplicate of {first} (channel {channel.slug})")
                continue
            if channel is None:
                title = entry.attr("tvg-name") or entry.title or slug
                channel = channels[group] = Channel(slug, title, [], dict(entry.attrs), name)
            elif name not in channel.origin.split(","):
                channel.origin += f",{name}"
            channel.sources.append(key)
    return {c.slug: c for c in channels.values()}, skipped


def parse_source(text: str) -> ChannelKey:
    """`<40 hex>`, `infohash:<40 hex>`, each with `?param=value…`, or a stream link."""
    text = text.strip()
    link = link_in_line(text.encode())
    if link is not None:
        return ChannelKey.from_query(dict(link.params), link.path_id)
    selector, _, query = text.partition("?")
    kind, _, value = selector.rpartition(":")
    kind = kind or "id"
    if kind not in ("id", "infohash") or not _HEX40.fullmatch(value):
        raise ValueError(f"source {text!r} must be a 40-hex id, infohash:<40 hex> or a link")
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    return ChannelKey.from_query({**params, kind: value})


def parse_configured(text: str) -> dict[str, Channel]:
    """`Name=src|src;Other=src` → channels by slug."""
    channels: dict[str, Channel] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, sources = (p.strip() for p in part.partition("="))
        slug = slugify(name)
        if not sep or not slug.strip("-") or not sources:
            raise ValueError(f"channel {part.strip()!r} must be Name=source|source")
        if slug in channels:
            raise ValueError(f"two channels make the slug {slug!r}")
        try:
            keys = list(dict.fromkeys(parse_source(s) for s in sources.split("|") if s.strip()))
        except BadRequest as err:
            raise ValueError(f"channel {name!r}: {err.message}") from None
        channels[slug] = Channel(slug, name, keys)
    return channels


class ChannelCatalogue:
    """Every named channel by slug; the playlists' part is regrouped when they change."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.book = LivenessBook()  # every source's record, across sessions
        self._configured = parse_configured(settings.channels)
        self._from_playlists: dict[str, Channel] = {}
        self.skipped: dict[str, list[str]] = {}  # playlist name -> what was not read
        self._read: list[Playlist] = []  # the copies last grouped (held: compared by identity)

    def update(self, playlists: list[tuple[str, Playlist]]) -> None:
        """Regroup the playlists' channels when any of them was read anew."""
        read = [playlist for _, playlist in playlists]
        if len(read) == len(self._read) and all(a is b for a, b in zip(read, self._read)):
            return
        self._read = read
        self._from_playlists, self.skipped = group_entries(playlists)
        for name, notes in self.skipped.items():
            if notes:
                log.info("playlist %s: %d entries skipped", name, len(notes))

    def channels(self) -> list[Channel]:
        merged = {**self._from_playlists, **self._configured}
        return list(merged.values())

    def get(self, slug: str) -> Channel | None:
        return self._configured.get(slug) or self._from_playlists.get(slug)

    def require(self, slug: str) -> Channel:
        channel = self.get(slug)
        if channel is None:
            raise NotFound(f"no channel named {slug!r}")
        return channel

    def from_playlist(self, name: str) -> list[Channel]:
        """The channels a playlist contributed, in its order."""
        return [c for c in self._from_playlists.values() if name in c.origin.split(",")]

    def live(self, channel: Channel) -> bool:
        """A source of the channel worked recently and has not failed since."""
        within = self._settings.channel_live_seconds
        return any(self.book[key].live(within) for key in channel.sources)

    def backing_off(self, channel: Channel) -> bool:
        return all(self.book[key].backing_off() for key in channel.sources)
