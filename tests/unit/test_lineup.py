"""Channel numbering: tvg-chno kept, the rest numbered in playlist order, one number per channel."""

from __future__ import annotations

from acemux.playlists.entries import read_entries
from acemux.tuner.lineup import Lineup
from acemux.tuner.m3u_tags import tag_playlist
from tests.unit.test_m3u import QUIRKY


def m3u(*entries: tuple[str, str]) -> bytes:
    lines = ["#EXTM3U"]
    for extinf, content in entries:
        lines += [f"#EXTINF:-1 {extinf}", f"acestream://{content * 40}"]
    return "\n".join(lines).encode()


def numbers(lineup: Lineup) -> list[tuple[str, str]]:
    return [(c.number, c.name) for c in lineup.channels]


def test_tvg_chno_is_kept_and_the_rest_take_the_free_numbers_in_order():
    data = m3u(
        ('tvg-chno="2",Two', "a"), (",Auto one", "b"), ('tvg-chno="007",Seven', "c"),
        (",Auto three", "d"), ('tvg-chno="2",Claims two again', "e"), ('tvg-chno="x",Bad', "f"),
        ('tvg-chno="4.1",Sub', "0"),
    )
    assert numbers(Lineup([("p", read_entries(data))])) == [
        ("2", "Two"), ("1", "Auto one"), ("7", "Seven"), ("3", "Auto three"),
        ("4", "Claims two again"), ("5", "Bad"), ("4.1", "Sub"),
    ]


def test_one_channel_per_tvg_id_or_name_first_link_wins_across_playlists():
    first = m3u(('tvg-id="News.uk" tvg-logo="http://l/n.png",News', "a"), (",Films", "b"))
    second = m3u(('tvg-id="news.UK",News again', "c"), ('tvg-name="Films",Other title', "d"))
    lineup = Lineup([("first", read_entries(first)), ("second", read_entries(second))])
    assert numbers(lineup) == [("1", "News"), ("2", "Films")]
    news = lineup.channels[0]
    assert news.key.value == "a" * 40 and news.logo == "http://l/n.png"
    assert news.tvg_id == "News.uk" and news.playlists == ["first", "second"]
    assert [c.name for c in lineup.of_playlist("second")] == ["News", "Films"]
    assert lineup.by_content("c" * 40) is None  # a repeated channel's other link is not its own


def test_entries_without_id_or_name_are_channels_of_their_own():
    data = b"#EXTM3U\n#EXTINF:-1,\nacestream://" + b"a" * 40 + b"\nacestream://" + b"b" * 40 + b"\n"
    lineup = Lineup([("p", read_entries(data))])
    assert numbers(lineup) == [("1", "a" * 40), ("2", "b" * 40)]


def test_the_same_input_gives_the_same_numbers():
    one = numbers(Lineup([("q", read_entries(QUIRKY))]))
    assert one == numbers(Lineup([("q", read_entries(QUIRKY))]))
    assert [n for n, _ in one] == ["1", "2", "3", "4", "5", "6"]


def test_served_m3u_gets_numbers_and_guide_every_other_byte_kept():
    playlist = read_entries(QUIRKY)
    lineup = Lineup([("q", playlist)])
    by_link = {n: lineup.for_entry(e).number for n, e in enumerate(playlist.entries, 1)}
    tagged = tag_playlist(QUIRKY, by_link, "http://acemux/epg/q.xml")
    expected = (
        QUIRKY.replace(
            b'#EXTM3U url-tvg="http://epg.example/guide.xml.gz" x-tvg-url="a,b"',
            b'#EXTM3U url-tvg="http://acemux/epg/q.xml"',
        )
        .replace(b'#EXTINF:-1 tvg-id="One.uk"', b'#EXTINF:-1 tvg-chno="1" tvg-id="One.uk"')
        .replace(b'#EXTINF:-1 tvg-name="Two', b'#EXTINF:-1 tvg-chno="2" tvg-name="Two')
        .replace(b'#EXTINF:0 tvg-id=""', b'#EXTINF:0 tvg-chno="3" tvg-id=""')
        .replace(b"#EXTINF:-1,Four", b'#EXTINF:-1 tvg-chno="4",Four')
        .replace(b"#EXTINF:-1,Five", b'#EXTINF:-1 tvg-chno="5",Five')
        .replace("#EXTINF:-1,Ünïcödé".encode(), '#EXTINF:-1 tvg-chno="6",Ünïcödé'.encode())
    )
    assert tagged == expected


def test_a_wrong_tvg_chno_is_replaced_and_a_headerless_playlist_gets_a_header():
    data = b'#EXTINF:-1 tvg-chno="9",A\r\nacestream://' + b"a" * 40 + b"\r\n"
    assert tag_playlist(data, {1: "3"}, "http://g") == (
        b'#EXTM3U url-tvg="http://g"\r\n#EXTINF:-1 tvg-chno="3",A\r\nacestream://'
        + b"a" * 40 + b"\r\n"
    )
