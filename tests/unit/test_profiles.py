"""Profile recipes from configuration, and which profile a browser needs by the PMT."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from acemux.config import Settings
from acemux.fake_engine.tsloop import ac3_loop, default_loop
from acemux.profiles.media import describe_media, latest_pmt
from acemux.profiles.recipes import BUILT_IN, ProfileCatalog, parse_profiles
from acemux.streaming.index import StreamIndex
from acemux.streaming.ring import ChunkRing
from acemux.streaming.ts import PACKET_SIZE, SYNC_BYTE


def test_user_profiles_are_lists_of_output_options():
    [tv] = parse_profiles(json.dumps({"tv": ["-c:v", "libx264", "-c:a", "aac"]})).values()
    command = tv.command("/usr/bin/ffmpeg")
    assert command[0] == "/usr/bin/ffmpeg"
    # acemux's input (stdin) and output (MPEG-TS on stdout) around the recipe, never a shell.
    assert command[command.index("-i") + 1] == "pipe:0" and command[-1] == "pipe:1"
    at = command.index("libx264") - 1
    assert command[at : at + 4] == ["-c:v", "libx264", "-c:a", "aac"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("-c:a aac", "must be JSON"),
        ('["-c:a"]', "JSON object"),
        ('{"Bad Name": ["-c:a", "aac"]}', "lowercase letters"),
        ('{"aac": ["-c:a", "aac"]}', "built in"),
        ('{"copy": ["-c:a", "aac"]}', "built in"),
        ('{"x": "-c:a aac"}', "list of strings"),
        ('{"x": []}', "list of strings"),
        ('{"x": ["-c:a", 1]}', "list of strings"),
        ('{"x": ["-i", "/etc/passwd"]}', "sets -i itself"),
        ('{"x": ["-f", "flv"]}', "sets -f itself"),
    ],
)
def test_bad_user_profiles_are_refused_with_a_reason(text, message):
    with pytest.raises(ValueError, match=message):
        parse_profiles(text)
    with pytest.raises(ValidationError, match=message):
        Settings(profiles=text)


def test_configured_profiles_need_ffmpeg_at_start():
    recipe = json.dumps({"mono": ["-ac", "1"]})
    with pytest.raises(ValidationError, match="ffmpeg '/no/such/ffmpeg' is not found"):
        Settings(profiles=recipe, ffmpeg="/no/such/ffmpeg")
    # The built-in ones do not: without ffmpeg they answer 502 when asked for.
    assert Settings(ffmpeg="/no/such/ffmpeg").ffmpeg == "/no/such/ffmpeg"


def test_catalog_lists_copy_the_built_in_and_the_configured_profiles():
    catalog = ProfileCatalog(json.dumps({"mono": ["-ac", "1"]}))
    assert catalog.names() == ["copy", "aac", "h264", "mono"]
    assert catalog.get("aac") is BUILT_IN["aac"] and catalog.get("copy") is None
    assert "-c:v" in BUILT_IN["aac"].args and "copy" in BUILT_IN["aac"].args


def ring_of(data: bytes) -> ChunkRing:
    ring, index = ChunkRing(len(data) * 2), StreamIndex()
    ring.append(data, index.scan(data))
    return ring


def test_an_ac3_channel_needs_the_aac_profile_and_an_aac_one_none():
    ac3 = describe_media(latest_pmt(ring_of(ac3_loop().data)))
    assert ac3 == {
        "video": "h264", "audio": "ac3", "stream_types": ["0x1b", "0x81"],
        "browser_profile": "aac",
    }  # fmt: skip
    aac = describe_media(latest_pmt(ring_of(default_loop().data)))
    assert aac is not None and aac["audio"] == "aac" and aac["browser_profile"] is None


def pmt_packet(*stream_types: int) -> bytes:
    streams = b"".join(bytes([t, 0xE1, 0x00 + i, 0xF0, 0x00]) for i, t in enumerate(stream_types))
    body = bytes([0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xF0, 0x00]) + streams + b"\0" * 4
    section = bytes([0x02, 0xB0 | (len(body) >> 8), len(body) & 0xFF]) + body
    data = bytes([SYNC_BYTE, 0x50, 0x00, 0x10, 0x00]) + section
    return data + b"\xff" * (PACKET_SIZE - len(data))


@pytest.mark.parametrize(
    "types, profile",
    [
        ((0x1B, 0x0F), None),  # H.264 + AAC
        ((0x1B, 0x11), None),  # H.264 + AAC (LATM)
        ((0x1B, 0x81), "aac"),  # AC-3
        ((0x1B, 0x03), "aac"),  # MPEG-1 audio
        ((0x1B, 0x04), "aac"),  # MPEG-2 audio
        ((0x24, 0x0F), "h264"),  # HEVC: the picture needs re-encoding
        ((0x02, 0x81), "h264"),  # MPEG-2 video (h264 makes AAC audio too)
        ((0x0F,), None),  # audio only, AAC
    ],
)
def test_browser_profile_by_stream_types(types, profile):
    assert describe_media(pmt_packet(*types))["browser_profile"] == profile


def test_no_pmt_yet_no_media():
    assert describe_media(latest_pmt(ChunkRing(1 << 20))) is None
