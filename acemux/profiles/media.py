"""What a channel carries, from its PMT's stream types, and which profile a browser needs.

Browsers (Media Source Extensions) and Chromecast play H.264 with AAC. A channel
whose audio is AC-3, E-AC-3 or MPEG audio is silent there without the `aac`
profile; one whose video is not H.264 needs `h264`.
"""

from __future__ import annotations

from acemux.streaming.ring import ChunkRing
from acemux.streaming.ts import PACKET_SIZE, elementary_pids

VIDEO = {0x1B: "h264", 0x24: "hevc", 0x02: "mpeg2video", 0x01: "mpeg1video"}
AUDIO = {0x0F: "aac", 0x11: "aac_latm", 0x81: "ac3", 0x87: "eac3", 0x03: "mp3", 0x04: "mp2"}
BROWSER_VIDEO = {0x1B}
BROWSER_AUDIO = {0x0F, 0x11}


def latest_pmt(ring: ChunkRing) -> bytes | None:
    """The newest PMT the ring's join points carry (each join's prefix is PAT + PMT)."""
    for _, join in reversed(ring.joins()):
        if len(join.prefix) >= 2 * PACKET_SIZE:
            return join.prefix[PACKET_SIZE : 2 * PACKET_SIZE]
    return None


def describe_media(pmt: bytes | None) -> dict | None:
    """Codecs by stream type, and `browser_profile`: what a browser should ask for."""
    if pmt is None:
        return None
    types = [stream_type for stream_type, _ in elementary_pids(pmt)]
    video = [t for t in types if t in VIDEO]
    audio = [t for t in types if t in AUDIO]
    if video and video[0] not in BROWSER_VIDEO:
        profile = "h264"
    elif audio and audio[0] not in BROWSER_AUDIO:
        profile = "aac"
    else:
        profile = None  # plays as it comes
    return {
        "video": VIDEO.get(video[0]) if video else None,
        "audio": AUDIO.get(audio[0]) if audio else None,
        "stream_types": [f"0x{t:02x}" for t in types],
        "browser_profile": profile,
    }
