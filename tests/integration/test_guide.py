"""XMLTV guides: fetched (gzipped or not), filtered to the lineup, ids as the M3U writes them."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from typing import AsyncIterator

import pytest
from aiohttp import web

from acemux.playlists.entries import read_entries
from tests.integration.apiclient import get_json
from tests.integration.conftest import running_proxy

A, B, C = "a" * 40, "b" * 40, "c" * 40

GUIDE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tv SYSTEM "xmltv.dtd">
<tv source-info-name="fixture">
  <channel id="ONE.uk"><display-name>One</display-name><icon src="http://l/1.png"/></channel>
  <channel id="demo"><display-name lang="en">Demo &amp; Test</display-name></channel>
  <channel id="Other.xx"><display-name>Not listed</display-name></channel>
  <programme start="20261202080000 +0000" stop="20261202090000 +0000" channel="ONE.uk">
    <title>Morning news</title></programme>
  <programme start="20261202090000 +0000" stop="20261202100000 +0000" channel="one.uk">
    <title>Weather</title></programme>
  <programme start="20261202080000 +0000" stop="20261202083000 +0000" channel="demo">
    <title lang="en">Test card</title><desc>Colour bars</desc></programme>
  <programme start="20261202080000 +0000" stop="20261202090000 +0000" channel="Other.xx">
    <title>Elsewhere</title></programme>
</tv>
"""


def playlist(guide_url: str) -> bytes:
    return (
        f'#EXTM3U url-tvg="{guide_url}" x-tvg-url="not-a-url.xml"\r\n'
        f'#EXTINF:-1 tvg-id="One.uk" tvg-chno="101",One\r\nacestream://{A}\r\n'
        f'#EXTINF:-1 tvg-id="demo",Demo\r\nacestream://{B}\r\n'
        f'#EXTINF:-1 tvg-id="Missing.id",No guide\r\nacestream://{C}\r\n'
    ).encode()


class GuideOrigin:
    """A guide provider on 127.0.0.1: /guide.xml and /guide.xml.gz, its status switchable."""

    def __init__(self) -> None:
        self.status = 200
        self.body = GUIDE
        self.requests = 0
        self.url = ""

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests += 1
        gz = request.path.endswith(".gz")
        body = gzip.compress(self.body) if gz else self.body
        return web.Response(body=body, status=self.status)

    async def __aenter__(self) -> "GuideOrigin":
        app = web.Application()
        app.router.add_get("/guide.xml", self._serve)
        app.router.add_get("/guide.xml.gz", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def origin() -> AsyncIterator[GuideOrigin]:
    async with GuideOrigin() as served:
        yield served


async def fetch_xml(http, url: str) -> ET.Element:
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/xml"
        return ET.fromstring(await resp.read())


def check_filtered(tv: ET.Element) -> None:
    channels = {
        c.get("id"): [n.text for n in c.findall("display-name")] for c in tv.iter("channel")
    }
    # Only listed channels, with the M3U's ids, each with its lineup number as a name.
    assert channels == {"One.uk": ["One", "101"], "demo": ["Demo & Test", "1"]}
    programmes = [(p.get("channel"), p.findtext("title")) for p in tv.iter("programme")]
    assert programmes == [("One.uk", "Morning news"), ("One.uk", "Weather"), ("demo", "Test card")]
    assert tv.find("channel/icon").get("src") == "http://l/1.png"
    assert tv.find("programme[@channel='demo']/desc").text == "Colour bars"


@pytest.mark.parametrize("path", ["/guide.xml.gz", "/guide.xml"])
async def test_header_guide_gzipped_or_not_is_filtered_to_the_lineup(
    engine, http, origin, tmp_path, path
):
    (tmp_path / "tv.m3u").write_bytes(playlist(origin.url + path))
    async with running_proxy(engine.url, playlists=f"tv={tmp_path / 'tv.m3u'}") as proxy:
        check_filtered(await fetch_xml(http, f"{proxy.url}/epg/tv.xml"))
        check_filtered(await fetch_xml(http, f"{proxy.url}/epg.xml"))
        async with http.get(f"{proxy.url}/playlist/tv.m3u") as resp:
            header = f'#EXTM3U url-tvg="{proxy.url}/epg/tv.xml"'.encode()
            assert (await resp.read()).startswith(header)
        status = await get_json(http, f"{proxy.url}/api/v1/playlists")
        (guide,) = status["guides"]
        assert guide["playlist"] == "tv" and guide["last_error"] is None
        assert guide["channels"] == 3 and not guide["stale"]
        assert origin.requests == 1  # cached: one fetch for all of the above


async def test_configured_guide_file_and_an_unknown_playlist(engine, http, origin, tmp_path):
    (tmp_path / "guide.xml").write_bytes(GUIDE)
    (tmp_path / "tv.m3u").write_bytes(playlist("not-a-url.xml"))
    async with running_proxy(
        engine.url, playlists=f"tv={tmp_path / 'tv.m3u'}", guides=f"main={tmp_path / 'guide.xml'}"
    ) as proxy:
        check_filtered(await fetch_xml(http, f"{proxy.url}/epg.xml"))
        async with http.get(f"{proxy.url}/epg/nope.xml") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"


async def test_a_failing_guide_keeps_its_last_good_copy_and_says_so(engine, http, origin, tmp_path):
    (tmp_path / "tv.m3u").write_bytes(playlist(origin.url + "/guide.xml.gz"))
    async with running_proxy(
        engine.url, playlists=f"tv={tmp_path / 'tv.m3u'}", guide_refresh_seconds=0.05
    ) as proxy:
        check_filtered(await fetch_xml(http, f"{proxy.url}/epg/tv.xml"))
        origin.status = 500

        async def failed_fetch_seen() -> bool:
            check_filtered(await fetch_xml(http, f"{proxy.url}/epg/tv.xml"))  # meanwhile too
            status = await get_json(http, f"{proxy.url}/api/v1/playlists")
            return status["guides"][0]["last_error"] is not None

        await wait_until_async(failed_fetch_seen)
        (guide,) = (await get_json(http, f"{proxy.url}/api/v1/playlists"))["guides"]
        assert guide["stale"] and guide["last_error"] == "HTTP 500 Internal Server Error"
        assert guide["last_success_at"] is not None
        check_filtered(await fetch_xml(http, f"{proxy.url}/epg/tv.xml"))


async def test_a_guide_that_is_no_xmltv_never_replaces_a_good_one(engine, http, origin, tmp_path):
    (tmp_path / "tv.m3u").write_bytes(playlist(origin.url + "/guide.xml"))
    bomb = b'<?xml version="1.0"?><!DOCTYPE tv [<!ENTITY a "aaaaaaaaaa">]><tv>&a;</tv>'
    async with running_proxy(
        engine.url, playlists=f"tv={tmp_path / 'tv.m3u'}", guide_refresh_seconds=0.05
    ) as proxy:
        check_filtered(await fetch_xml(http, f"{proxy.url}/epg/tv.xml"))
        for bad, error in [
            (bomb, "guide declares XML entities, refused"),
            (b"<html><body>maintenance</body></html>", "not an XMLTV guide (no <tv> element)"),
        ]:
            origin.body = bad

            async def refused() -> bool:
                await fetch_xml(http, f"{proxy.url}/epg/tv.xml")
                status = await get_json(http, f"{proxy.url}/api/v1/playlists")
                return status["guides"][0]["last_error"] == error

            await wait_until_async(refused)
            check_filtered(await fetch_xml(http, f"{proxy.url}/epg/tv.xml"))


async def wait_until_async(check, attempts: int = 200) -> None:
    """Ask again until check() holds; each attempt is a real request, so no sleep is needed."""
    for _ in range(attempts):
        if await check():
            return
    raise AssertionError("never happened")


async def test_playlist_lineup_and_guide_agree_on_ids_and_numbers(engine, http, origin, tmp_path):
    (tmp_path / "tv.m3u").write_bytes(playlist(origin.url + "/guide.xml"))
    async with running_proxy(engine.url, playlists=f"tv={tmp_path / 'tv.m3u'}") as proxy:
        async with http.get(f"{proxy.url}/playlist/tv.m3u") as resp:
            served = read_entries(await resp.read())
        async with http.get(f"{proxy.url}/hdhr/tv/lineup.json") as resp:
            lineup = await resp.json()
        tv = await fetch_xml(http, f"{proxy.url}/epg/tv.xml")
    numbers = {e.title: e.attr("tvg-chno") for e in served.entries}
    assert numbers == {row["GuideName"]: row["GuideNumber"] for row in lineup}
    assert numbers == {"One": "101", "Demo": "1", "No guide": "2"}
    by_id = {e.attr("tvg-id"): e.attr("tvg-chno") for e in served.entries}
    for channel in tv.iter("channel"):
        names = [n.text for n in channel.findall("display-name")]
        assert by_id[channel.get("id")] in names  # the guide's channel carries the same number
