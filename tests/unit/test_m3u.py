"""M3U rewriting: only stream links change, every other byte stays as it came."""

from __future__ import annotations

from acemux.playlists.m3u import StreamLink, parse

A = "a" * 40
B = "0123456789abcdef0123456789ABCDEF01234567"
C = "c" * 40
D = "d" * 40
E = "e" * 40

# A playlist as they come: BOM, CRLF, a lone LF line, blank lines, attributes with
# commas inside quotes, tags holding URLs, links of every shape, and lines that
# only look like links.
QUIRKY = (
    "\ufeff#EXTM3U url-tvg=\"http://epg.example/guide.xml.gz\" x-tvg-url=\"a,b\"\r\n"
    "\r\n"
    '#EXTINF:-1 tvg-id="One.uk" tvg-logo="http://logo.example/1.png" group-title="News, Sport",One, HD\r\n'
    f"acestream://{A}\r\n"
    '#EXTINF:-1 tvg-name="Two, the channel" group-title="Films",Two\r\n'
    "#EXTVLCOPT:network-caching=1000\r\n"
    f"http://127.0.0.1:6878/ace/getstream?id={B}&pid=42\r\n"
    "\r\n"
    '#EXTINF:0 tvg-id="" group-title="",Three (infohash)\n'
    f"  https://engine.lan:6878/ace/getstream?infohash={C}&transcode_audio=1  \r\n"
    "#EXTINF:-1,Four (path form)\r\n"
    f"http://10.0.0.2:6878/ace/getstream/{D}\r\n"
    "#EXTINF:-1,Five (engine HLS)\r\n"
    f"http://10.0.0.2:6878/ace/manifest.m3u8?content_id={E}&format=json\r\n"
    "#EXTINF:-1,Not an AceStream link\r\n"
    "http://example.com/live/stream.ts\r\n"
    f"#EXTINF:-1,A commented link acestream://{A}\r\n"
    "#EXTINF:-1,Short id\r\n"
    "acestream://1234\r\n"
    "#EXTINF:-1,Ünïcödé ✓\r\n"
    f"acestream://{A.upper()}"  # the last line has no line ending
).encode()

EXPECTED = (
    "\ufeff#EXTM3U url-tvg=\"http://epg.example/guide.xml.gz\" x-tvg-url=\"a,b\"\r\n"
    "\r\n"
    '#EXTINF:-1 tvg-id="One.uk" tvg-logo="http://logo.example/1.png" group-title="News, Sport",One, HD\r\n'
    f"<id={A}>\r\n"
    '#EXTINF:-1 tvg-name="Two, the channel" group-title="Films",Two\r\n'
    "#EXTVLCOPT:network-caching=1000\r\n"
    f"<id={B}&pid=42>\r\n"
    "\r\n"
    '#EXTINF:0 tvg-id="" group-title="",Three (infohash)\n'
    f"  <infohash={C}&transcode_audio=1>  \r\n"
    "#EXTINF:-1,Four (path form)\r\n"
    f"<path={D}>\r\n"
    "#EXTINF:-1,Five (engine HLS)\r\n"
    f"<content_id={E}&format=json>\r\n"
    "#EXTINF:-1,Not an AceStream link\r\n"
    "http://example.com/live/stream.ts\r\n"
    f"#EXTINF:-1,A commented link acestream://{A}\r\n"
    "#EXTINF:-1,Short id\r\n"
    "acestream://1234\r\n"
    "#EXTINF:-1,Ünïcödé ✓\r\n"
    f"<id={A.upper()}>"
).encode()


def show(link: StreamLink) -> str:
    """Makes what the parser found visible in the output."""
    if link.path_id is not None:
        return f"<path={link.path_id}>"
    return "<" + "&".join(f"{k}={v}" for k, v in link.params) + ">"


def test_quirky_playlist_round_trips_with_only_the_links_changed():
    template = parse(QUIRKY)
    assert template.links == 6
    assert template.render(show) == EXPECTED


def test_keeping_every_link_gives_back_the_same_bytes():
    assert parse(QUIRKY).render(lambda link: None) == QUIRKY


def test_links_are_replaced_as_given_and_line_endings_kept():
    playlist = f"#EXTM3U\r\n#EXTINF:-1,One\r\nacestream://{A}\r\n".encode()
    rendered = parse(playlist).render(lambda link: f"http://acemux/ace/getstream?id={A}")
    assert rendered == f"#EXTM3U\r\n#EXTINF:-1,One\r\nhttp://acemux/ace/getstream?id={A}\r\n".encode()


def test_a_playlist_that_starts_with_a_link_after_its_bom():
    rendered = parse(f"\ufeffacestream://{A}\n".encode()).render(lambda link: "X")
    assert rendered == "\ufeffX\n".encode()


def test_bytes_that_are_not_utf8_are_kept():
    playlist = b"#EXTM3U\n#EXTINF:-1,Caf\xe9\n" + f"acestream://{A}\n".encode()
    assert parse(playlist).render(lambda link: "X") == b"#EXTM3U\n#EXTINF:-1,Caf\xe9\nX\n"


def test_empty_and_link_free_playlists():
    assert parse(b"").render(lambda link: "X") == b""
    assert parse(b"#EXTM3U\r\n").links == 0


KODI = "#KODIPROP:mimetype=video/mp2t"


def test_mark_ts_puts_a_kodi_mimetype_line_right_before_each_replaced_link():
    playlist = (
        "#EXTM3U\r\n"
        "#EXTINF:-1,One\r\n"
        "#EXTVLCOPT:http-user-agent=VLC\r\n"
        f"acestream://{A}\r\n"
        "#EXTINF:-1,Elsewhere\r\n"
        "http://example.com/x.ts\r\n"
        "#EXTINF:-1,Two\n"
        f"  acestream://{B}"  # the last line, no ending: the previous line's is used
    ).encode()
    rendered = parse(playlist).render(lambda link: "X", mark_ts=True).decode()
    assert rendered == (
        "#EXTM3U\r\n"
        "#EXTINF:-1,One\r\n"
        "#EXTVLCOPT:http-user-agent=VLC\r\n"
        f"{KODI}\r\n"
        "X\r\n"
        "#EXTINF:-1,Elsewhere\r\n"
        "http://example.com/x.ts\r\n"
        "#EXTINF:-1,Two\n"
        f"{KODI}\n"
        "  X"
    )


def test_mark_ts_keeps_an_entrys_own_mimetype_line_and_links_it_keeps():
    playlist = (
        "#EXTM3U\n"
        "#EXTINF:-1,Has one\n"
        "#kodiprop:mimetype=video/MP2T\n"
        f"acestream://{A}\n"
        "#EXTINF:-1,Kept\n"
        f"acestream://{B}\n"
        "#EXTINF:-1,Needs one\n"
        f"acestream://{C}\n"
    ).encode()
    new = {A: "X", C: "Z"}
    rendered = parse(playlist).render(lambda link: new.get(link.params[0][1]), mark_ts=True)
    assert rendered.decode() == (
        "#EXTM3U\n"
        "#EXTINF:-1,Has one\n"
        "#kodiprop:mimetype=video/MP2T\n"
        "X\n"
        "#EXTINF:-1,Kept\n"
        f"acestream://{B}\n"
        "#EXTINF:-1,Needs one\n"
        f"{KODI}\n"
        "Z\n"
    )


def test_mark_ts_after_a_leading_bom():
    rendered = parse(f"\ufeffacestream://{A}\n".encode()).render(lambda link: "X", mark_ts=True)
    assert rendered == f"\ufeff{KODI}\nX\n".encode()


def test_ts_path_alias_links_are_recognised():
    template = parse(f"http://acemux:8080/ace/getstream/{A}.ts?transcode_audio=1\n".encode())
    assert template.render(show) == f"<path={A}>\n".encode()
