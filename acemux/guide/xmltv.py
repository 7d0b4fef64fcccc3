"""XMLTV guides read once per fetch, and written back holding only the lineup's channels.

A guide's `<channel id>` and each `<programme channel>` are matched to the
lineup's `tvg-id`s without regard to case and written with the M3U's
spelling, so media servers match guide and lineup by the same ids. Each
channel also gets its lineup number as a display name (how Plex maps guide
channels to tuner channels). Documents declaring entities are refused: a
guide never needs them, and they are how XML bombs work.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from acemux.tuner.lineup import Channel

HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<tv generator-info-name="acemux">\n'
FOOTER = "</tv>\n"


class GuideError(ValueError):
    """The bytes are not a usable XMLTV guide (the message says why)."""


class Guide:
    """A guide's channels and programmes, by lower-cased channel id."""

    def __init__(self, data: bytes) -> None:
        root_at = data.find(b"<tv")
        if root_at < 0:
            raise GuideError("not an XMLTV guide (no <tv> element)")
        if b"<!ENTITY" in data[:root_at]:
            raise GuideError("guide declares XML entities, refused")
        try:
            root = ET.fromstring(data)
        except ET.ParseError as err:
            raise GuideError(f"not well-formed XML: {err}") from err
        if root.tag != "tv":
            raise GuideError(f"not an XMLTV guide (root element <{root.tag}>)")
        self.channels: dict[str, ET.Element] = {}
        self.programmes: dict[str, list[ET.Element]] = defaultdict(list)
        for element in root:
            element.tail = None
            if element.tag == "channel" and element.get("id"):
                self.channels.setdefault(element.get("id", "").lower(), element)
            elif element.tag == "programme" and element.get("channel"):
                self.programmes[element.get("channel", "").lower()].append(element)

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
        parts.append(_channel(guide.channels[wanted], channel))
        for programme in guide.programmes.get(wanted, ()):
            programmes.append(_with_attr(programme, "channel", channel.tvg_id))
    parts += programmes
    parts.append(FOOTER)
    return "".join(parts).encode()


def _channel(element: ET.Element, channel: Channel) -> str:
    names = [child.text for child in element if child.tag == "display-name"]
    text = _with_attr(element, "id", channel.tvg_id)
    if channel.number not in names:
        close = text.rfind("</channel>")
        number = f"<display-name>{channel.number}</display-name>"
        text = text[:close] + number + text[close:] if close >= 0 else text
    return text


def _with_attr(element: ET.Element, name: str, value: str) -> str:
    """The element serialised with one attribute changed; the parsed guide stays as it is."""
    copy = ET.Element(element.tag, {**element.attrib, name: value})
    copy.text = element.text
    copy.extend(list(element))
    text = ET.tostring(copy, encoding="unicode")
    if text.endswith("/>"):  # <channel id="x" /> has no close tag to put a name before
        text = text[:-2].rstrip() + f"></{element.tag}>"
    return text + "\n"


