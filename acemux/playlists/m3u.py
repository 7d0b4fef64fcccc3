"""M3U playlists with their stream links pointed elsewhere, byte for byte otherwise.

Real playlists come with a BOM, CRLF or mixed line endings, blank lines,
`#EXTINF` attributes holding quoted commas, and stream links of several
shapes. Only a line that is one stream link (with optional surrounding
blanks) is touched, and only the link itself; everything else, tags and
attributes included, is copied as it came. The playlist is parsed once per
fetch into literal bytes and links, then rendered per request.

Links recognised: `acestream://<40 hex>` and engine URLs on any host,
`/ace/getstream?id=|content_id=|infohash=…`, `/ace/getstream/<40 hex>[.ts]` and
`/ace/manifest.m3u8?…`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

_BOM = b"\xef\xbb\xbf"
TS_MIMETYPE_TAG = b"#KODIPROP:mimetype=video/mp2t"
_EOL = re.compile(rb"(\r\n|\r|\n)")
_LINK_LINE = re.compile(
    rb"(?:\xef\xbb\xbf)?[ \t]*"  # a BOM when the playlist starts with a link
    rb"(?P<url>acestream://(?P<ace>[0-9a-f]{40})/?"
    rb"|https?://[^\s/?#]+/ace/(?:getstream|manifest\.m3u8)"
    rb"(?:/(?P<path>[0-9a-f]{40})(?:\.ts)?)?(?:\?(?P<query>[^\s#]*))?)"
    rb"[ \t]*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class StreamLink:
    text: bytes  # the link as the playlist wrote it
    params: tuple[tuple[str, str], ...]  # its query (acestream:// links: id=)
    path_id: str | None = None  # the id of /ace/getstream/<id>


@dataclass(frozen=True, slots=True)
class _LinkLine:
    lead: bytes  # what comes before the link on its line: blanks, a BOM
    link: StreamLink
    eol: bytes  # the playlist's line ending here, for a line put before this one
    has_ts_mimetype: bool  # the entry already says #KODIPROP:mimetype=video/mp2t


class M3UTemplate:
    """A playlist as literal bytes and stream links, to render with new links."""

    __slots__ = ("parts", "links")

    def __init__(self, parts: list[bytes | _LinkLine]) -> None:
        self.parts = parts
        self.links = sum(isinstance(part, _LinkLine) for part in parts)

    def render(self, new_url: Callable[[StreamLink], str | None], mark_ts: bool = False) -> bytes:
        """The playlist with each link replaced by new_url(link); None keeps a link.

        With mark_ts, each replaced link gets a `#KODIPROP:mimetype=video/mp2t`
        line right before it (unless its entry has one), so Kodi IPTV Simple
        plays it without first probing it with a HEAD and a 1 KiB GET.
        """
        out = []
        for part in self.parts:
            if not isinstance(part, _LinkLine):
                out.append(part)
                continue
            url = new_url(part.link)
            lead = part.lead
            if url is not None and mark_ts and not part.has_ts_mimetype:
                if lead.startswith(_BOM):
                    out.append(_BOM)
                    lead = lead[len(_BOM) :]
                out.append(TS_MIMETYPE_TAG + part.eol)
            out.append(lead)
            out.append(part.link.text if url is None else url.encode())
        return b"".join(out)


def parse(data: bytes) -> M3UTemplate:
    parts: list[bytes | _LinkLine] = []
    literal = bytearray()
    pieces = _EOL.split(data)  # line, ending, line, ending, ..., last line
    last_eol = b"\n"
    has_ts_mimetype = False  # seen among the current entry's tags
    for i in range(0, len(pieces), 2):
        line = pieces[i]
        ending = pieces[i + 1] if i + 1 < len(pieces) else b""
        last_eol = ending or last_eol
        link, start, end = _link_in(line)
        if link is None:
            literal += line + ending
            has_ts_mimetype = has_ts_mimetype or _is_ts_mimetype(line)
            continue
        parts.append(bytes(literal))
        parts.append(_LinkLine(line[:start], link, last_eol, has_ts_mimetype))
        literal = bytearray(line[end:] + ending)
        has_ts_mimetype = False
    parts.append(bytes(literal))
    return M3UTemplate(parts)


def _is_ts_mimetype(line: bytes) -> bool:
    return line.strip().lower().replace(b" ", b"") == TS_MIMETYPE_TAG.lower()


def _link_in(line: bytes) -> tuple[StreamLink | None, int, int]:
    """The stream link a line consists of, with its span; (None, 0, 0) if it is not one."""
    match = _LINK_LINE.fullmatch(line)
    if match is None:
        return None, 0, 0
    start, end = match.span("url")
    text = line[start:end]
    ace = match.group("ace")
    if ace is not None:
        return StreamLink(text, (("id", ace.decode()),)), start, end
    query = (match.group("query") or b"").decode("utf-8", "replace")
    path = match.group("path")
    link = StreamLink(
        text,
        tuple(parse_qsl(query, keep_blank_values=True)),
        path.decode() if path is not None else None,
    )
    return link, start, end


def link_in_line(line: bytes) -> StreamLink | None:
    """The stream link a playlist line consists of, or None."""
    return _link_in(line)[0]
