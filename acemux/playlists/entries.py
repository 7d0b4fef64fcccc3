"""M3U playlists read as entries: each `#EXTINF` with its attributes, title and stream link.

`m3u.py` keeps a playlist byte for byte to re-render it; this module reads the
same bytes for what they mean: the header's attributes (`url-tvg`, …) and one
Entry per AceStream link with the `#EXTINF` before it. Lines that are neither
are skipped and counted, so a playlist is read as far as it is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from acemux.playlists.m3u import StreamLink, link_in_line

_EOL = re.compile(rb"\r\n|\r|\n")
# key="value" or key=value, as players accept both
_ATTR = re.compile(r'([A-Za-z0-9_-]+)=(?:"([^"]*)"|([^\s",]+))')


@dataclass(frozen=True, slots=True)
class Entry:
    title: str  # the #EXTINF title, after the last attribute's comma
    attrs: dict[str, str]  # tvg-id, tvg-name, tvg-logo, tvg-chno, group-title, … (lower-case keys)
    link: StreamLink
    line: int  # 1-based line number of the link

    def attr(self, name: str) -> str:
        return self.attrs.get(name, "").strip()


@dataclass(slots=True)
class Playlist:
    header: dict[str, str] = field(default_factory=dict)  # #EXTM3U attributes
    entries: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what was not read, and why

    @property
    def guide_urls(self) -> list[str]:
        """XMLTV guides the header names (url-tvg / x-tvg-url, each comma-separated)."""
        urls: list[str] = []
        for name in ("url-tvg", "x-tvg-url"):
            for url in self.header.get(name, "").split(","):
                if url.strip() and url.strip() not in urls:
                    urls.append(url.strip())
        return urls


def read_entries(data: bytes) -> Playlist:
    playlist = Playlist()
    extinf: tuple[str, dict[str, str]] | None = None
    for number, raw in enumerate(_EOL.split(data.removeprefix(b"\xef\xbb\xbf")), start=1):
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line.upper().startswith("#EXTM3U"):
            playlist.header.update(parse_attrs(line[len("#EXTM3U") :]))
        elif line.upper().startswith("#EXTINF:"):
            extinf = parse_extinf(line)
        elif line.startswith("#"):
            continue  # other tags (#EXTVLCOPT, #KODIPROP, #EXTGRP) belong to the entry
        else:
            link = link_in_line(raw)
            if link is None:
                playlist.skipped.append(f"line {number}: not an AceStream link")
            else:
                title, attrs = extinf or ("", {})
                playlist.entries.append(Entry(title, attrs, link, number))
            extinf = None
    return playlist


def parse_extinf(line: str) -> tuple[str, dict[str, str]]:
    """`#EXTINF:-1 a="b" c="d, e",Title` → ("Title", {"a": "b", "c": "d, e"})."""
    body = line.split(":", 1)[1]
    attrs: dict[str, str] = {}
    end = 0
    for match in _ATTR.finditer(body):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        attrs[match.group(1).lower()] = value
        end = match.end()
    comma = body.find(",", end)
    title = body[comma + 1 :].strip() if comma >= 0 else ""
    return title, attrs


def parse_attrs(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _ATTR.finditer(text)
    }
