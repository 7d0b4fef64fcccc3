"""What an HDHomeRun tuner answers: discover.json, lineup_status.json, lineup.json, device.xml.

Plex, Jellyfin and Emby read these fields (the emulators of xTeVe, Threadfin
and Dispatcharr serve the same). The DeviceID is derived from the
configuration (the public URL or listening port, and the playlist), so a
media server finds the same tuner after a restart, and two tuners of one
acemux never share one.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from acemux.config import Settings
from acemux.tuner.lineup import Channel

MANUFACTURER = "Silicondust"
MODEL = "HDTC-2US"
FIRMWARE_NAME = "hdhomeruntc_atsc"
FIRMWARE_VERSION = "20150826"
LINEUP_STATUS = {"ScanInProgress": 0, "ScanPossible": 0, "Source": "Cable", "SourceList": ["Cable"]}


def device_id(settings: Settings, playlist: str | None) -> str:
    """Eight hex digits, the same for the same configuration and tuner."""
    where = settings.public_url or f"{settings.host}:{settings.port}"
    seed = f"acemux|{where}|{playlist or ''}".encode()
    return hashlib.sha256(seed).hexdigest()[:8].upper()


def tuner_count(settings: Settings) -> int:
    """Channels acemux can play at once: the engines' caps, within max_channels."""
    caps = [engine.max_channels for engine in settings.engines]
    if all(cap is not None for cap in caps):
        return min(settings.max_channels, sum(caps))  # type: ignore[arg-type]
    return settings.max_channels


def friendly_name(settings: Settings, playlist: str | None) -> str:
    return f"{settings.tuner_name} {playlist}" if playlist else settings.tuner_name


def discover(settings: Settings, playlist: str | None, base_url: str, query: str) -> dict:
    """discover.json; base_url is the tuner's own (…/hdhr/<playlist> for a playlist's)."""
    ident = device_id(settings, playlist)
    return {
        "FriendlyName": friendly_name(settings, playlist),
        "Manufacturer": MANUFACTURER,
        "ModelNumber": MODEL,
        "FirmwareName": FIRMWARE_NAME,
        "FirmwareVersion": FIRMWARE_VERSION,
        "DeviceID": ident,
        "DeviceAuth": hashlib.sha256(f"auth|{ident}".encode()).hexdigest()[:24],
        "BaseURL": base_url,
        "LineupURL": f"{base_url}/lineup.json{query}",
        "TunerCount": tuner_count(settings),
    }


def lineup(channels: list[Channel], stream_url) -> list[dict]:
    """lineup.json rows; stream_url(channel) is the channel's absolute acemux URL."""
    return [
        {"GuideNumber": channel.number, "GuideName": channel.name, "URL": stream_url(channel)}
        for channel in channels
    ]


def device_xml(settings: Settings, playlist: str | None, base_url: str) -> str:
    """The UPnP root device description SSDP points at."""
    ident = device_id(settings, playlist)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<root xmlns="urn:schemas-upnp-org:device-1-0">\n'
        "  <specVersion><major>1</major><minor>0</minor></specVersion>\n"
        f"  <URLBase>{escape(base_url)}</URLBase>\n"
        "  <device>\n"
        "    <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>\n"
        f"    <friendlyName>{escape(friendly_name(settings, playlist))}</friendlyName>\n"
        f"    <manufacturer>{MANUFACTURER}</manufacturer>\n"
        f"    <modelName>{MODEL}</modelName>\n"
        f"    <modelNumber>{MODEL}</modelNumber>\n"
        f"    <serialNumber>{ident}</serialNumber>\n"
        f"    <UDN>uuid:{ident}</UDN>\n"
        "  </device>\n"
        "</root>\n"
    )
