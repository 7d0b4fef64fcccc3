"""M3U entries: each AceStream link with its #EXTINF title and attributes."""

from __future__ import annotations

from acemux.playlists.entries import parse_extinf, read_entries
from tests.unit.test_m3u import A, B, QUIRKY


def test_entries_carry_titles_attributes_and_links() -> None:
    playlist = read_entries(QUIRKY)
    titles = [e.title for e in playlist.entries]
    assert titles == [
        "One, HD",
        "Two",
        "Three (infohash)",
        "Four (path form)",
        "Five (engine HLS)",
        "Ünïcödé ✓",
    ]
    one, two = playlist.entries[:2]
    assert one.attr("tvg-id") == "One.uk" and one.attr("group-title") == "News, Sport"
    assert dict(one.link.params) == {"id": A}
    assert two.attr("tvg-name") == "Two, the channel"
    assert dict(two.link.params)["id"] == B


def test_header_guides_and_skipped_lines_are_reported() -> None:
    playlist = read_entries(QUIRKY)
    assert playlist.guide_urls == ["http://epg.example/guide.xml.gz", "a", "b"]
    assert playlist.skipped == ["line 16: not an AceStream link", "line 19: not an AceStream link"]


def test_extinf_attributes_quoted_and_bare() -> None:
    title, attrs = parse_extinf('#EXTINF:-1 tvg-chno=7 TVG-ID="x.y" group-title="a, b",Seven')
    assert title == "Seven"
    assert attrs == {"tvg-chno": "7", "tvg-id": "x.y", "group-title": "a, b"}
    assert parse_extinf("#EXTINF:-1") == ("", {})
