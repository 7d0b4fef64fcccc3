"""Run inside a private network namespace: a real multicast M-SEARCH to acemux's SSDP.

`test_ssdp.py` starts it with `unshare -rn`, after giving the namespace's
loopback multicast and a route for 224.0.0.0/4, and reads the JSON it prints.
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp

from acemux.config import Settings
from acemux.fake_engine import FakeEngine
from acemux.tuner.ssdp import GROUP
from acemux.web.app import AcemuxServer

SEARCH = (
    "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
    "MX: 1\r\nST: upnp:rootdevice\r\n\r\n"
).encode()


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr) -> None:
        if not self.reply.done():
            self.reply.set_result(data)


async def main() -> None:
    async with FakeEngine() as engine:
        settings = Settings(host="0.0.0.0", port=0, engine=engine.url, ssdp=True, ssdp_port=0)
        async with AcemuxServer(settings) as server:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            loopback = socket.inet_aton("127.0.0.1")
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, loopback)
            loop = asyncio.get_running_loop()
            transport, client = await loop.create_datagram_endpoint(Client, sock=sock)
            try:
                transport.sendto(SEARCH, (GROUP, server.ssdp_port))
                reply = (await asyncio.wait_for(client.reply, 10)).decode()
            finally:
                transport.close()
            location = next(
                line.split(":", 1)[1].strip()
                for line in reply.split("\r\n")
                if line.upper().startswith("LOCATION:")
            )
            async with aiohttp.ClientSession() as http, http.get(location) as resp:
                device_xml = await resp.text()
            print(json.dumps({"reply": reply, "location": location, "device_xml": device_xml,
                              "http_port": server.port}))


if __name__ == "__main__":
    asyncio.run(main())
