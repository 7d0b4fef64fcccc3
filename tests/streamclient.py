"""Test-side viewers: read a stream over real HTTP, or connect and never read."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp

from acemux.streaming.ts import NULL_PID, PACKET_SIZE


async def read_stream(
    http: aiohttp.ClientSession, url: str, nbytes: int, timeout: float = 15.0
) -> bytes:
    """Read the first `nbytes` of a 200 stream (fewer if it ends)."""
    async with asyncio.timeout(timeout):
        async with http.get(url) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"] == "video/mp2t"
            return await read_n(resp.content, nbytes)


async def read_n(content: aiohttp.StreamReader, nbytes: int) -> bytes:
    parts, got = [], 0
    while got < nbytes:
        data = await content.read(min(65536, nbytes - got))
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def strip_null_packets(data: bytes) -> bytes:
    """Drop keep-alive null packets (PID 0x1FFF) from aligned data."""
    return b"".join(
        data[i : i + PACKET_SIZE]
        for i in range(0, len(data), PACKET_SIZE)
        if ((data[i + 1] & 0x1F) << 8 | data[i + 2]) != NULL_PID
    )


async def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> None:
    """For state with no event to await (e.g. counts read over HTTP); bounded in time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


class StalledViewer:
    """A client that asks for a stream and then never reads from its socket."""

    def __init__(self, port: int, path: str) -> None:
        self._port, self._path = port, path
        self.sock: socket.socket | None = None

    async def __aenter__(self) -> "StalledViewer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self._port))
        sock.sendall(f"GET {self._path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.sock = sock
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()
