"""XMLTV reading and gunzip limits, socket-free."""

from __future__ import annotations

import gzip

import pytest

from acemux.guide.sources import gunzip
from acemux.guide.xmltv import Guide, GuideError, render
from acemux.playlists.sources import FetchError
from acemux.streaming.key import ChannelKey
from acemux.tuner.lineup import Channel
from tests.integration.test_guide import GUIDE


def channel(tvg_id: str, number: str) -> Channel:
    return Channel(number, tvg_id, "", tvg_id, ChannelKey("id", "a" * 40))


def test_gunzip_keeps_to_the_limit_and_refuses_truncated_data():
    packed = gzip.compress(b"x" * 5000)
    assert gunzip(packed, 5000) == b"x" * 5000
    with pytest.raises(FetchError, match="more than the limit"):
        gunzip(packed, 4999)
    with pytest.raises(FetchError, match="truncated"):
        gunzip(packed[:-12], 10_000)
    with pytest.raises(FetchError, match="broken gzip"):
        gunzip(b"\x1f\x8b" + b"\x00" * 20, 10_000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no <tv> element"),
        (b"<tv><channel id='x'>", "not well-formed"),
        (b"<tvx/>", "root element <tvx>"),
    ],
)
def test_what_is_no_guide_is_refused(data, message):
    with pytest.raises(GuideError, match=message):
        Guide(data)


def test_render_writes_each_channel_once_from_the_first_guide_that_has_it():
    first = Guide(GUIDE)
    second = Guide(
        b'<tv><channel id="demo"><display-name>From second</display-name></channel>'
        b'<channel id="late"/><programme channel="late"><title>L</title></programme></tv>'
    )
    wanted = [channel("demo", "1"), channel("Demo", "1"), channel("late", "9")]
    doc = render([first, second], wanted)
    text = doc.decode()
    assert text.count("<channel ") == 2 and "From second" not in text
    assert '<channel id="late"><display-name>9</display-name></channel>' in text
    assert '<programme channel="late"><title>L</title></programme>' in text
    assert render([first, second], wanted) == doc  # writing leaves the guides as they were
    renamed = render([first], [channel("DEMO", "1")]).decode()
    assert '<channel id="DEMO">' in renamed and 'channel="DEMO"' in renamed


def test_attributes_and_text_survive_with_escapes():
    guide = Guide(
        b'<tv><channel id="a&amp;b"><display-name>A &lt;&amp;&gt; B</display-name>'
        b'<icon src="http://l/x.png?a=1&amp;b=2"/></channel>'
        b'<programme start="1" channel="a&amp;b" stop="2"><title>"Q" &amp; A</title></programme>'
        b"</tv>"
    )
    text = render([guide], [channel("a&b", "3")]).decode()
    assert '<channel id="a&amp;b"><display-name>A &lt;&amp;&gt; B</display-name>' in text
    assert '<icon src="http://l/x.png?a=1&amp;b=2" /><display-name>3</display-name></channel>' in text
    assert '<programme channel="a&amp;b" start="1" stop="2"><title>"Q" &amp; A</title>' in text
