"""SSDP discovery: answer M-SEARCH with the location of each tuner's device.xml.

Media servers on the LAN multicast `M-SEARCH * HTTP/1.1` to 239.255.255.250:1900;
acemux joins that group (when the host has a multicast route) and answers
every search for a root device, a media server, a tuner's uuid or ssdp:all,
sent to the group or straight to its socket. The location is built from
`public_url`, else from the local address that reaches the asker. Off unless
`--ssdp` is given.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from acemux import __version__
from acemux.config import Settings
from acemux.tuner.hdhr import device_id

log = logging.getLogger(__name__)

GROUP = "239.255.255.250"
MAX_DATAGRAM = 2048  # an M-SEARCH is a few hundred bytes; bigger ones are ignored
DEVICE_TYPE = "urn:schemas-upnp-org:device:MediaServer:1"
ROOT = "upnp:rootdevice"
MAX_AGE = 1800


def _searched(data: bytes) -> str | None:
    """The ST of an M-SEARCH, or None when the datagram is none."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    if not lines[0].upper().startswith("M-SEARCH * HTTP/1.1"):
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().upper()] = value.strip()
    if headers.get("MAN", "").strip('"').lower() != "ssdp:discover":
        return None
    return headers.get("ST")


class SsdpResponder(asyncio.DatagramProtocol):
    def __init__(self, settings: Settings, http_port: int) -> None:
        self._settings = settings
        self._http_port = http_port
        playlists = [None, *(spec.name for spec in settings.playlist_specs)]
        self._tuners = [(device_id(settings, name), name) for name in playlists]
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if len(data) > MAX_DATAGRAM or self._transport is None:
            return
        target = _searched(data)
        if target is None:
            return
        base = self._base_for(addr[0])
        for ident, playlist in self._tuners:
            st = self._answers(target, ident)
            if st is None:
                continue
            path = f"/hdhr/{playlist}/device.xml" if playlist else "/device.xml"
            usn = f"uuid:{ident}" + ("" if st == f"uuid:{ident}" else f"::{st}")
            reply = (
                "HTTP/1.1 200 OK\r\n"
                f"CACHE-CONTROL: max-age={MAX_AGE}\r\n"
                "EXT:\r\n"
                f"LOCATION: {base}{path}\r\n"
                f"SERVER: Linux UPnP/1.0 acemux/{__version__}\r\n"
                f"ST: {st}\r\n"
                f"USN: {usn}\r\n"
                "\r\n"
            )
            self._transport.sendto(reply.encode(), addr)

    @staticmethod
    def _answers(target: str, ident: str) -> str | None:
        """The ST to answer a search for `target` with, or None when it is not this tuner."""
        if target == "ssdp:all":
            return DEVICE_TYPE
        if target in (ROOT, DEVICE_TYPE, f"uuid:{ident}"):
            return target
        return None

    def _base_for(self, asker: str) -> str:
        if self._settings.public_url:
            return self._settings.public_url
        # The local address a reply to the asker leaves from (connect sends nothing).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((asker, 9))
                local = probe.getsockname()[0]
            except OSError:
                local = "127.0.0.1"
        return f"http://{local}:{self._http_port}"


async def start_ssdp(settings: Settings, http_port: int) -> asyncio.DatagramTransport:
    """Listen for M-SEARCH on the SSDP port; the caller closes the transport."""
    host = settings.host if settings.host not in ("", "::") else "0.0.0.0"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, settings.ssdp_port))
    try:
        membership = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton("0.0.0.0"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    except OSError as err:
        log.warning("SSDP: cannot join %s (%s); answering unicast searches only", GROUP, err)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: SsdpResponder(settings, http_port), sock=sock
    )
    log.info("SSDP: answering M-SEARCH on UDP %s:%d", host, sock.getsockname()[1])
    return transport
