"""The served M3U carries acemux's channel numbers and guide, every other byte kept.

The header's `url-tvg` (and `x-tvg-url`) is made acemux's own guide URL, and
each entry's `#EXTINF` gets the lineup's `tvg-chno` (replacing one that was
not its number, e.g. a duplicate). Entries are found by the order of their
AceStream links: rendering a playlist rewrites links and may add tag lines
(Kodi's mimetype), but keeps every link line, in order.
"""

from __future__ import annotations

import re

from acemux.playlists.m3u import link_in_line

_EOL = re.compile(rb"(\r\n|\r|\n)")
_BOM = b"\xef\xbb\xbf"
_GUIDE_ATTR = re.compile(rb'\s+(?:url-tvg|x-tvg-url)=(?:"[^"]*"|[^\s"]+)', re.IGNORECASE)
_CHNO_ATTR = re.compile(rb'(\s+tvg-chno=)(?:"[^"]*"|[^\s",]+)', re.IGNORECASE)
_EXTINF_HEAD = re.compile(rb"#EXTINF:\s*-?[0-9.]*", re.IGNORECASE)


def tag_playlist(data: bytes, numbers: dict[int, str], guide_url: str) -> bytes:
    """data with its header pointing at guide_url; numbers: link (1-based, in order) -> number."""
    bom = _BOM if data.startswith(_BOM) else b""
    pieces = _EOL.split(data[len(bom) :])  # line, ending, line, ending, ..., last line
    guide = b' url-tvg="' + guide_url.replace('"', "%22").encode() + b'"'
    extinf_at: int | None = None  # index in pieces of the last #EXTINF line
    links = 0  # AceStream link lines seen so far
    for index in range(0, len(pieces), 2):
        line = pieces[index]
        head = line.lstrip()
        if index == 0 and head[:7].upper() == b"#EXTM3U":
            pieces[0] = _GUIDE_ATTR.sub(b"", line).rstrip() + guide
        elif head[:8].upper() == b"#EXTINF:":
            extinf_at = index
        elif head and not head.startswith(b"#"):
            number = None
            if link_in_line(line) is not None:
                links += 1
                number = numbers.get(links)
            if number is not None and extinf_at is not None:
                pieces[extinf_at] = _with_number(pieces[extinf_at], number.encode())
            extinf_at = None
    head_line = pieces[0].lstrip()[:7].upper()
    if head_line != b"#EXTM3U":  # a playlist without a header gets one
        ending = pieces[1] if len(pieces) > 1 else b"\n"
        pieces[0:0] = [b"#EXTM3U" + guide, ending]
    return bom + b"".join(pieces)


def _with_number(extinf: bytes, number: bytes) -> bytes:
    quoted = b'"' + number + b'"'
    if _CHNO_ATTR.search(extinf):
        return _CHNO_ATTR.sub(lambda m: m.group(1) + quoted, extinf, count=1)
    match = _EXTINF_HEAD.search(extinf)
    assert match is not None
    return extinf[: match.end()] + b" tvg-chno=" + quoted + extinf[match.end() :]
