#!/usr/bin/env python3
"""The floor baseline: the least a uvloop program can do to fan one stream out.

It asks the engine for the channel once (getstream format=json), opens the
playback URL once and takes the same upstream reads as acemux: the same engine
and pacing, reads of at most --read-size bytes (acemux's --read-size, 128 KiB
by default; the benchmarks pass the same value to both). Each read goes to
every connected client's transport in one write. The response is the least
framing HTTP allows: `HTTP/1.1 200`, no Content-Length, `Connection: close`,
no chunked encoding (close-delimited, RFC 9112 §6.3), as acemux's is. Nothing
else: no HTTP parsing beyond finding the end of the request head, no TS
alignment, no ring, no joiner handling. Its one concession is flow control so
an unpaced upstream cannot fill memory: while any client's transport is above
its high-water mark (512 KiB, acemux's default) the upstream is paused.

Measured exactly like acemux (CPU and RSS of this process alone), it is the
floor that acemux's fan-out cost is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.parse
import urllib.request

import uvloop

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-cache\r\n"
    b"Connection: close\r\n\r\n"
)


class Fanout:
    def __init__(self, high_water: int) -> None:
        self.clients: set[asyncio.Transport] = set()
        self.paused_clients = 0
        self.upstream: asyncio.Transport | None = None
        self.high_water = high_water

    def pause(self) -> None:
        self.paused_clients += 1
        if self.paused_clients == 1 and self.upstream is not None:
            self.upstream.pause_reading()

    def resume(self) -> None:
        self.paused_clients -= 1
        if self.paused_clients == 0 and self.upstream is not None:
            self.upstream.resume_reading()


class Client(asyncio.Protocol):
    def __init__(self, fan: Fanout) -> None:
        self.fan = fan
        self.request = b""
        self.transport: asyncio.Transport | None = None
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.request is None:
            return
        self.request += data
        if b"\r\n\r\n" in self.request:
            self.request = None
            assert self.transport is not None
            self.transport.set_write_buffer_limits(high=self.fan.high_water)
            self.transport.write(HEAD)
            self.fan.clients.add(self.transport)

    def pause_writing(self) -> None:
        self.paused = True
        self.fan.pause()

    def resume_writing(self) -> None:
        self.paused = False
        self.fan.resume()

    def connection_lost(self, exc: Exception | None) -> None:
        self.fan.clients.discard(self.transport)
        if self.paused:
            self.resume_writing()


class Upstream(asyncio.BufferedProtocol):
    def __init__(self, fan: Fanout, request: bytes, read_size: int) -> None:
        self.fan = fan
        self.request = request
        self.buf = memoryview(bytearray(read_size))
        self.head = b""
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.fan.upstream = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buf

    def buffer_updated(self, nbytes: int) -> None:
        chunk = bytes(self.buf[:nbytes])
        if self.head is not None:  # skip the response head once
            self.head += chunk
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            chunk, self.head = self.head[end + 4 :], None
            if not chunk:
                return
        for transport in self.fan.clients:
            transport.write(chunk)  # one call per client per read

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(exc)


def playback_url(engine: str, cid: str) -> str:
    """Ask the engine for the channel once, at startup (getstream format=json)."""
    query = f"/ace/getstream?id={cid}&format=json"
    with urllib.request.urlopen(engine + query, timeout=10) as resp:
        return json.loads(resp.read())["response"]["playback_url"]


async def main_async(args: argparse.Namespace, playback: str) -> None:
    loop = asyncio.get_running_loop()
    url = urllib.parse.urlsplit(playback)
    fan = Fanout(args.high_water)
    # HTTP/1.0 so the engine sends the plain body, no chunked framing to undo.
    request = f"GET {url.path} HTTP/1.0\r\nHost: {url.netloc}\r\n\r\n".encode()
    upstream = Upstream(fan, request, args.read_size)
    await loop.create_connection(lambda: upstream, url.hostname, url.port)
    server = await loop.create_server(lambda: Client(fan), "127.0.0.1", args.port, backlog=1024)
    print(f"baseline on 127.0.0.1:{args.port}, upstream {playback}", flush=True)
    async with server:
        await upstream.done
    print("baseline: upstream ended", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description="Minimal uvloop fan-out (the floor baseline).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--engine", required=True, help="engine base URL")
    parser.add_argument("--id", required=True, help="content id")
    parser.add_argument("--read-size", type=int, default=128 * 1024, help="largest upstream read")
    parser.add_argument("--high-water", type=int, default=512 * 1024)
    args = parser.parse_args()
    try:
        uvloop.run(main_async(args, playback_url(args.engine, args.id)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
