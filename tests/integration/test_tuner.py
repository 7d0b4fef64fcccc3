"""The HDHomeRun tuners, field by field, over HTTP/1.1 and HTTP/1.0, from a quirky playlist."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.tuner.hdhr import device_id
from tests.ffmpeg import decode_url, needs_ffmpeg
from tests.integration.conftest import make_settings, running_proxy
from tests.rawhttp import raw_request
from tests.streamclient import strip_null_packets
from tests.unit.test_m3u import A, B, C, D, E, QUIRKY

BACKUP = "f" * 40  # MORE's second link for QUIRKY's first channel
PUBLIC = "http://192.0.2.10:8080"  # what the media server reaches; never connected to
# A second playlist: it claims number 2 and repeats QUIRKY's first channel (by tvg-id).
MORE = (
    "#EXTM3U\n"
    '#EXTINF:-1 tvg-id="demo" tvg-chno="2" tvg-logo="http://logo/demo.png",Demo\n'
    f"acestream://{DEMO_CONTENT_ID}\n"
    '#EXTINF:-1 tvg-id="one.UK",One again\n'
    f"acestream://{BACKUP}\n"
).encode()
UPNP = "{urn:schemas-upnp-org:device-1-0}"

# QUIRKY's channels, in order: the auto numbers skip 2, which MORE claims.
# "One, HD" has a backup source (MORE lists it again): the lineup links its named channel.
QUIRKY_LINEUP = [
    ("1", "One, HD", "channel:one-uk"),
    ("3", "Two, the channel", f"id={B.lower()}"),
    ("4", "Three (infohash)", f"infohash={C}&transcode_audio=1"),
    ("5", "Four (path form)", f"id={D}"),
    ("6", "Five (engine HLS)", f"id={E}"),  # format= is acemux's own, not passed on
    ("7", "Ünïcödé ✓", f"id={A}"),
]
MORE_LINEUP = [("2", "Demo", f"id={DEMO_CONTENT_ID}"), ("1", "One, HD", "channel:one-uk")]


@pytest.fixture
def playlists(tmp_path) -> str:
    (tmp_path / "quirky.m3u").write_bytes(QUIRKY)
    (tmp_path / "more.m3u").write_bytes(MORE)
    return f"quirky={tmp_path / 'quirky.m3u'};more={tmp_path / 'more.m3u'}"


def rows(base: str, lineup: list[tuple[str, str, str]]) -> list[dict]:
    return [
        {"GuideNumber": n, "GuideName": name, "URL": stream_link(base, query)}
        for n, name, query in lineup
    ]


def stream_link(base: str, query: str) -> str:
    """A TS link as acemux writes it: by content id the .ts path form, else the query form."""
    if query.startswith("channel:"):
        return f"{base}/channel/{query.removeprefix('channel:')}.ts"
    selector, _, rest = query.partition("&")
    if not selector.startswith("id="):
        return f"{base}/ace/getstream?{query}"
    return f"{base}/ace/getstream/{selector[3:]}.ts" + (f"?{rest}" if rest else "")


async def get(port: int, path: str, version: str, method: str = "GET"):
    resp = await raw_request(port, path, method=method, version=version)
    assert resp.version == f"HTTP/{version}"
    return resp


@pytest.mark.parametrize("version", ["1.1", "1.0"])
async def test_discover_json_has_every_field(engine, playlists, version):
    async with running_proxy(
        engine.url + "#max=3", playlists=playlists, public_url=PUBLIC, tuner_name="Ace"
    ) as proxy:
        settings = proxy.settings
        root = await get(proxy.port, "/discover.json", version)
        assert root.status == 200 and root.headers["content-type"].startswith("application/json")
        assert json.loads(root.body) == {
            "FriendlyName": "Ace",
            "Manufacturer": "Silicondust",
            "ModelNumber": "HDTC-2US",
            "FirmwareName": "hdhomeruntc_atsc",
            "FirmwareVersion": "20150826",
            "DeviceID": device_id(settings, None),
            "DeviceAuth": json.loads(root.body)["DeviceAuth"],
            "BaseURL": PUBLIC,
            "LineupURL": f"{PUBLIC}/lineup.json",
            "TunerCount": 3,  # one engine capped at 3 channels
        }
        quirky = json.loads((await get(proxy.port, "/hdhr/quirky/discover.json", version)).body)
        more = json.loads((await get(proxy.port, "/hdhr/more/discover.json", version)).body)
        assert quirky["BaseURL"] == f"{PUBLIC}/hdhr/quirky"
        assert quirky["LineupURL"] == f"{PUBLIC}/hdhr/quirky/lineup.json"
        assert quirky["FriendlyName"] == "Ace quirky"
        ids = {json.loads(root.body)["DeviceID"], quirky["DeviceID"], more["DeviceID"]}
        assert len(ids) == 3 and all(len(i) == 8 for i in ids)
        assert len(quirky["DeviceAuth"]) == 24


async def test_device_id_is_stable_and_tuner_count_follows_the_capacity(engine, playlists):
    first = make_settings(engine.url, playlists=playlists, public_url=PUBLIC, max_channels=7)
    again = make_settings(engine.url, playlists=playlists, public_url=PUBLIC + "/")
    assert device_id(first, "quirky") == device_id(again, "quirky")  # a restart: the same tuner
    moved = make_settings(engine.url, public_url="http://192.0.2.11:8080")
    assert device_id(moved, "quirky") != device_id(first, "quirky")
    async with running_proxy(engine.url, max_channels=7) as proxy:
        # An uncapped engine: max_channels is what acemux can play.
        body = json.loads((await get(proxy.port, "/discover.json", "1.1")).body)
        assert body["TunerCount"] == 7
        # Without public_url the links follow the address the media server used.
        assert body["BaseURL"] == "http://127.0.0.1"  # the raw client's Host header


@pytest.mark.parametrize("version", ["1.1", "1.0"])
async def test_lineup_status_json(engine, playlists, version):
    async with running_proxy(engine.url, playlists=playlists) as proxy:
        for path in ("/lineup_status.json", "/hdhr/more/lineup_status.json"):
            resp = await get(proxy.port, path, version)
            assert resp.status == 200
            assert json.loads(resp.body) == {
                "ScanInProgress": 0, "ScanPossible": 0, "Source": "Cable", "SourceList": ["Cable"]
            }


@pytest.mark.parametrize("version", ["1.1", "1.0"])
async def test_lineup_json_numbers_names_and_absolute_urls(engine, playlists, version):
    async with running_proxy(engine.url, playlists=playlists, public_url=PUBLIC) as proxy:
        quirky = await get(proxy.port, "/hdhr/quirky/lineup.json", version)
        assert quirky.status == 200
        assert json.loads(quirky.body) == rows(PUBLIC, QUIRKY_LINEUP)
        more = await get(proxy.port, "/hdhr/more/lineup.json?show=found", version)
        assert json.loads(more.body) == rows(PUBLIC, MORE_LINEUP)
        # The default tuner: every channel once, numbered as in the playlists' own tuners.
        everything = json.loads((await get(proxy.port, "/lineup.json?show=all", version)).body)
        assert everything == rows(PUBLIC, QUIRKY_LINEUP + MORE_LINEUP[:1])
        numbers = [row["GuideNumber"] for row in everything]
        assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize("version", ["1.1", "1.0"])
async def test_device_xml_is_a_upnp_media_server(engine, playlists, version):
    async with running_proxy(engine.url, playlists=playlists, public_url=PUBLIC) as proxy:
        resp = await get(proxy.port, "/hdhr/quirky/device.xml", version)
        assert resp.status == 200 and "xml" in resp.headers["content-type"]
        root = ET.fromstring(resp.body)
        assert root.tag == f"{UPNP}root"
        assert root.findtext(f"{UPNP}URLBase") == f"{PUBLIC}/hdhr/quirky"
        device = root.find(f"{UPNP}device")
        assert device.findtext(f"{UPNP}deviceType") == "urn:schemas-upnp-org:device:MediaServer:1"
        assert device.findtext(f"{UPNP}UDN") == f"uuid:{device_id(proxy.settings, 'quirky')}"
        assert device.findtext(f"{UPNP}modelNumber") == "HDTC-2US"


@pytest.mark.parametrize("version", ["1.1", "1.0"])
async def test_lineup_post_accepts_start_and_abort(engine, playlists, version):
    async with running_proxy(engine.url, playlists=playlists) as proxy:
        for path in ("/lineup.post?scan=start&source=Cable", "/hdhr/more/lineup.post?scan=abort"):
            assert (await get(proxy.port, path, version, method="POST")).status == 200
        bad = await get(proxy.port, "/lineup.post?scan=sideways", version, method="POST")
        assert bad.status == 400 and json.loads(bad.body)["error"]["code"] == "bad_request"


async def test_unknown_playlist_tuner_is_404_json(engine, playlists):
    async with running_proxy(engine.url, playlists=playlists) as proxy:
        for path in ("/hdhr/nope/discover.json", "/hdhr/nope/lineup.json"):
            resp = await get(proxy.port, path, "1.0")
            assert resp.status == 404
            assert json.loads(resp.body)["error"]["code"] == "not_found"


async def test_token_in_the_path_reaches_the_tuner_and_its_links(engine, playlists):
    async with running_proxy(engine.url, playlists=playlists, token="tuner-t0ken") as proxy:
        assert (await get(proxy.port, "/hdhr/more/discover.json", "1.0")).status == 401
        path = "/t/tuner-t0ken/hdhr/more/discover.json"
        body = json.loads((await get(proxy.port, path, "1.0")).body)
        assert body["BaseURL"] == "http://127.0.0.1/t/tuner-t0ken/hdhr/more"
        assert body["LineupURL"] == "http://127.0.0.1/t/tuner-t0ken/hdhr/more/lineup.json"
        path = "/hdhr/more/lineup.json?token=tuner-t0ken"
        lineup = json.loads((await get(proxy.port, path, "1.0")).body)
        assert all(row["URL"].endswith("token=tuner-t0ken") for row in lineup)
        path = "/discover.json?token=tuner-t0ken"
        discover = json.loads((await get(proxy.port, path, "1.0")).body)
        assert discover["LineupURL"] == "http://127.0.0.1/lineup.json?token=tuner-t0ken"


@needs_ffmpeg
async def test_a_lineup_url_plays_in_ffmpeg(engine, playlists):
    async with running_proxy(engine.url, playlists=playlists) as proxy:
        resp = await get(proxy.port, "/hdhr/more/lineup.json", "1.1")
        url = json.loads(resp.body)[0]["URL"].replace("http://127.0.0.1", proxy.url)
        code, errors = await decode_url(url, seconds=2)
        assert code == 0, errors


async def test_a_lineup_channel_with_a_dead_first_source_plays_its_backup(engine, playlists, http):
    engine.faults.silent_ids = {A}  # "One, HD"'s first source sends nothing
    settings = dict(playlists=playlists, channel_no_data_seconds=1.0)
    async with running_proxy(engine.url, **settings) as proxy:
        resp = await get(proxy.port, "/hdhr/quirky/lineup.json", "1.1")
        url = json.loads(resp.body)[0]["URL"].replace("http://127.0.0.1", proxy.url)
        async with http.get(url) as stream:
            assert stream.status == 200
            media = b""
            async with asyncio.timeout(15):
                while len(media) < 100 * 188:
                    media += strip_null_packets(await stream.content.readexactly(188 * 100))
    assert engine.stats.getstream_calls_by_id[BACKUP] == 1


async def test_api_names_a_playing_channel_from_the_lineup(engine, playlists, http):
    async with running_proxy(engine.url, playlists=playlists) as proxy:
        await get(proxy.port, "/hdhr/more/lineup.json", "1.1")
        async with http.get(f"{proxy.url}/ace/getstream?id={DEMO_CONTENT_ID}") as stream:
            await stream.content.readexactly(188)
            async with http.get(f"{proxy.url}/api/v1/streams") as resp:
                (listed,) = (await resp.json())["streams"]
            async with http.get(f"{proxy.url}/ace/status?id={DEMO_CONTENT_ID}") as resp:
                status = await resp.json()
        demo = {"number": "2", "name": "Demo", "logo": "http://logo/demo.png"}
        assert listed["channel"] == demo and status["channel"] == demo


async def test_api_names_channels_before_any_lineup_was_asked_for(engine, playlists, http):
    async with running_proxy(engine.url, playlists=playlists) as proxy:
        async with http.get(f"{proxy.url}/ace/getstream?id={DEMO_CONTENT_ID}") as stream:
            await stream.content.readexactly(188)
            for _ in range(200):  # the first listing starts the lineup; a later one shows it
                async with http.get(f"{proxy.url}/api/v1/streams") as resp:
                    (listed,) = (await resp.json())["streams"]
                if listed["channel"] is not None:
                    break
        assert listed["channel"] == {"number": "2", "name": "Demo", "logo": "http://logo/demo.png"}
