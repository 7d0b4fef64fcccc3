"""The channel lineup: playlist entries made numbered, named channels.

One channel per distinct `tvg-id` (else name) across every configured
playlist, in configuration and playlist order; the first link wins. Numbers:
a valid `tvg-chno` is kept (the first channel to claim a number gets it),
every other channel gets the lowest free whole number, in order. The same
numbers serve the M3U playlists, the HDHomeRun lineups and the guide, so a
channel has one number everywhere, whichever playlist lists it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from acemux.errors import BadRequest
from acemux.playlists.entries import Entry, Playlist
from acemux.streaming.key import ChannelKey

_CHNO = re.compile(r"\d{1,5}(?:\.\d{1,3})?")


@dataclass(slots=True)
class Channel:
    number: str  # GuideNumber: "7" or "7.1"
    name: str
    logo: str
    tvg_id: str  # as the M3U writes it ("" when it has none)
    key: ChannelKey
    playlists: list[str] = field(default_factory=list)  # the playlists listing it

    def describe(self) -> dict:
        return {"number": self.number, "name": self.name, "logo": self.logo or None}


def identity(entry: Entry) -> str:
    """What makes two entries the same channel: the tvg-id, else the name, else the link."""
    if tvg_id := entry.attr("tvg-id"):
        return "id:" + tvg_id.lower()
    if name := display_name(entry):
        return "name:" + name.lower()
    return "link:" + entry.link.text.decode("utf-8", "replace").lower()


def display_name(entry: Entry) -> str:
    return entry.attr("tvg-name") or entry.title


def entry_key(entry: Entry) -> ChannelKey | None:
    try:
        return ChannelKey.from_query(dict(entry.link.params), entry.link.path_id)
    except BadRequest:
        return None


class Lineup:
    """Every channel of the given playlists, numbered once."""

    def __init__(self, playlists: list[tuple[str, Playlist]]) -> None:
        self.channels: list[Channel] = []
        self._by_identity: dict[str, Channel] = {}
        self._of_playlist: dict[str, list[Channel]] = {}  # each in its playlist's order
        wanted: list[tuple[Channel, str]] = []  # each new channel and its tvg-chno
        for name, playlist in playlists:
            for entry in playlist.entries:
                channel = self._by_identity.get(identity(entry))
                if channel is None:
                    key = entry_key(entry)
                    if key is None:
                        continue
                    channel = Channel(
                        "", display_name(entry) or key.value, entry.attr("tvg-logo"),
                        entry.attr("tvg-id"), key,
                    )
                    self._by_identity[identity(entry)] = channel
                    self.channels.append(channel)
                    wanted.append((channel, entry.attr("tvg-chno")))
                if name not in channel.playlists:
                    channel.playlists.append(name)
                    self._of_playlist.setdefault(name, []).append(channel)
        _number(wanted)
        self._by_content = {}
        for channel in self.channels:
            self._by_content.setdefault(channel.key.value, channel)

    def of_playlist(self, name: str) -> list[Channel]:
        return list(self._of_playlist.get(name, ()))

    def for_entry(self, entry: Entry) -> Channel | None:
        return self._by_identity.get(identity(entry))

    def by_content(self, content_id: str) -> Channel | None:
        return self._by_content.get(content_id)


def _number(wanted: list[tuple[Channel, str]]) -> None:
    taken: set[str] = set()
    for channel, chno in wanted:
        if _CHNO.fullmatch(chno) and _canonical(chno) not in taken:
            channel.number = _canonical(chno)
            taken.add(channel.number)
    next_free = 1
    for channel, _ in wanted:
        if channel.number:
            continue
        while str(next_free) in taken:
            next_free += 1
        channel.number = str(next_free)
        taken.add(channel.number)


def _canonical(chno: str) -> str:
    """`007` and `7` are one number."""
    whole, dot, minor = chno.partition(".")
    return str(int(whole)) + (dot + minor if dot else "")
