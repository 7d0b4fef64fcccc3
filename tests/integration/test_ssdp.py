"""SSDP: an M-SEARCH on loopback gets each tuner's device.xml location, which then answers.

The machine's own loopback carries no multicast (no MULTICAST flag, no route
to 239.255.255.250), so one test sends its M-SEARCH straight to the
responder's socket (UPnP 1.1 unicast M-SEARCH), and another runs acemux and a
client in a private network namespace whose loopback has multicast, to send
a real multicast M-SEARCH to the group.
"""

from __future__ import annotations

import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from acemux.tuner.hdhr import device_id
from tests.integration.conftest import running_proxy

UPNP = "{urn:schemas-upnp-org:device-1-0}"


def m_search(st: str, man: str = '"ssdp:discover"') -> bytes:
    return (
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        f"MAN: {man}\r\nMX: 1\r\nST: {st}\r\n\r\n"
    ).encode()


class SearchClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr) -> None:
        self.replies.put_nowait(data)


def headers_of(reply: bytes) -> dict[str, str]:
    status, *lines = reply.decode().split("\r\n")
    assert status == "HTTP/1.1 200 OK"
    pairs = (line.partition(":") for line in lines if line)
    return {name.strip().upper(): value.strip() for name, _, value in pairs}


async def test_m_search_gets_the_location_of_each_tuner(engine, http, tmp_path):
    (tmp_path / "tv.m3u").write_text("#EXTM3U\n")
    async with running_proxy(
        engine.url, ssdp=True, ssdp_port=0, playlists=f"tv={tmp_path / 'tv.m3u'}"
    ) as proxy:
        loop = asyncio.get_running_loop()
        transport, client = await loop.create_datagram_endpoint(
            SearchClient, local_addr=("127.0.0.1", 0)
        )
        try:
            target = ("127.0.0.1", proxy.ssdp_port)
            # Not searches: ignored, no answer.
            transport.sendto(b"NOTIFY * HTTP/1.1\r\n\r\n", target)
            transport.sendto(m_search("ssdp:all", man="nope"), target)
            transport.sendto(m_search("urn:other:device:Printer:1"), target)
            transport.sendto(m_search("urn:schemas-upnp-org:device:MediaServer:1"), target)
            replies = [await asyncio.wait_for(client.replies.get(), 10) for _ in range(2)]
            ident = device_id(proxy.settings, None)
            transport.sendto(m_search(f"uuid:{ident}"), target)
            (only,) = [await asyncio.wait_for(client.replies.get(), 10)]
        finally:
            transport.close()
        assert client.replies.empty()  # the ignored datagrams got nothing
        found = {}
        for reply in replies:
            headers = headers_of(reply)
            assert headers["ST"] == "urn:schemas-upnp-org:device:MediaServer:1"
            assert headers["CACHE-CONTROL"] == "max-age=1800"
            found[headers["LOCATION"]] = headers["USN"]
        assert set(found) == {f"{proxy.url}/device.xml", f"{proxy.url}/hdhr/tv/device.xml"}
        for location, usn in found.items():
            async with http.get(location) as resp:
                assert resp.status == 200
                root = ET.fromstring(await resp.read())
            udn = root.find(f"{UPNP}device").findtext(f"{UPNP}UDN")
            assert usn == f"{udn}::urn:schemas-upnp-org:device:MediaServer:1"
        assert headers_of(only)["USN"] == f"uuid:{ident}"
        assert headers_of(only)["LOCATION"] == f"{proxy.url}/device.xml"


async def test_ssdp_is_off_by_default(engine):
    async with running_proxy(engine.url) as proxy:
        assert proxy.ssdp_port is None


async def test_multicast_m_search_in_a_private_network_namespace():
    # The namespace has only its own loopback: nothing leaves this machine.
    setup = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
    proc = await asyncio.create_subprocess_exec(
        "unshare", "-rn", "sh", "-c",
        f'{setup} && exec "{sys.executable}" -m tests.integration.ssdp_multicast',
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    headers = headers_of(result["reply"].encode())
    assert headers["ST"] == "upnp:rootdevice"
    assert result["location"] == f"http://127.0.0.1:{result['http_port']}/device.xml"
    udn = ET.fromstring(result["device_xml"]).find(f"{UPNP}device").findtext(f"{UPNP}UDN")
    assert headers["USN"] == f"{udn}::upnp:rootdevice"
