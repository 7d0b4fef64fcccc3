"""XMLTV guides read once per fetch, and written back holding only the lineup's channels.

A guide is read element by element and each `<channel>` and `<programme>` is
kept as its own text, without its id, by lower-cased channel id: memory stays
near the guide's size, and writing a filtered guide is joining strings. The
ids are matched to the lineup's `tvg-id`s without regard to case and written
with the M3U's spelling, so media servers match guide and lineup by the same
ids. Each channel also gets its lineup number as a display name (how Plex maps
guide channels to tuner channels). Documents declaring entities are refused:
a guide never needs them, and they are how XML bombs work.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

from acemux.tuner.lineup import Channel

HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<tv generator-info-name="acemux">\n'
FOOTER = "</tv>\n"


class GuideError(ValueError):
    """The bytes are not a usable XMLTV guide (the message says why)."""


class Guide:
    def __init__(self, data: bytes) -> None:
        root_at = data.find(b"<tv")
        if root_at < 0:
            raise GuideError("not an XMLTV guide (no <tv> element)")
        if b"<!ENTITY" in data[:root_at]:
            raise GuideError("guide declares XML entities, refused")
        # lower-cased id -> (the element's text without its id, its display names)
        self.channels: dict[str, tuple[str, list[str]]] = {}
        self.programmes: dict[str, list[str]] = defaultdict(list)  # texts without channel=
        try:
            self._read(data)
        except ET.ParseError as err:
            raise GuideError(f"not well-formed XML: {err}") from err

    def _read(self, data: bytes) -> None:
        depth = 0
        root: ET.Element | None = None
        for event, element in ET.iterparse(io.BytesIO(data), events=("start", "end")):
            if event == "start":
                depth += 1
                if root is None:
                    if element.tag != "tv":
                        raise GuideError(f"not an XMLTV guide (root element <{element.tag}>)")
                    root = element
                continue
            depth -= 1
            if depth == 1 and root is not None:  # a child of <tv> is complete
                self._keep(element)
                root.clear()  # what is kept is its text: the tree is let go

    def _keep(self, element: ET.Element) -> None:
        element.tail = None
        if element.tag == "channel":
            ident = element.attrib.pop("id", "").lower()
            if ident and ident not in self.channels:
                names = [child.text or "" for child in element if child.tag == "display-name"]
                self.channels[ident] = (ET.tostring(element, encoding="unicode"), names)
        elif element.tag == "programme":
            ident = element.attrib.pop("channel", "").lower()
            if ident:
                self.programmes[ident].append(ET.tostring(element, encoding="unicode"))

    @property
    def summary(self) -> str:
        count = sum(len(p) for p in self.programmes.values())
        return f"{len(self.channels)} channels, {count} programmes"


def render(guides: list[Guide], channels: list[Channel]) -> bytes:
    """One XMLTV document: each channel from the first guide that has it, with its programmes."""
    parts = [HEADER]
    programmes: list[str] = []
    written: set[str] = set()
    for channel in channels:
        wanted = channel.tvg_id.lower()
        if not wanted or wanted in written:
            continue
        guide = next((g for g in guides if wanted in g.channels), None)
        if guide is None:
            continue
        written.add(wanted)
        text, names = guide.channels[wanted]
        number = f"<display-name>{escape(channel.number)}</display-name>"
        extra = "" if channel.number in names else number
        parts.append(_with_attr(text, "channel", "id", channel.tvg_id, extra))
        for programme in guide.programmes.get(wanted, ()):
            programmes.append(_with_attr(programme, "programme", "channel", channel.tvg_id))
    parts += programmes
    parts.append(FOOTER)
    return "".join(parts).encode()


def _with_attr(text: str, tag: str, name: str, value: str, inner: str = "") -> str:
    """`<tag …>` text given its attribute back as its first one, and `inner` before it closes."""
    head = f"<{tag} {name}={quoteattr(value)}"
    rest = text[len(tag) + 1 :]  # after "<tag": attributes, then ">" or " />"
    start_end = rest.find(">")  # attribute values hold no ">": it is escaped
    if rest[start_end - 1] == "/":  # an empty element: <tag … />
        return f"{head}{rest[: start_end - 1].rstrip()}>{inner}</{tag}>\n"
    if inner:
        close = rest.rfind(f"</{tag}>")
        rest = rest[:close] + inner + rest[close:]
    return head + rest + "\n"
