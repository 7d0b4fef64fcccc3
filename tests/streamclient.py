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


def free_port() -> int:
    """A port that was free a moment ago, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class RecordingViewer:
    """Reads a stream in the background and records what arrived and when.

    `max_gap` is the longest time without any bytes (null packets count: they
    are what keeps players connected); `max_media_gap` the longest without a
    packet other than a null packet.
    """

    def __init__(
        self, http: aiohttp.ClientSession, url: str, user_agent: str = "test-player/1.0"
    ) -> None:
        self._http, self._url = http, url
        self._headers = {"User-Agent": user_agent}
        self.data = bytearray()
        self.status: int | None = None
        self.ended = False  # the server ended the stream cleanly
        self.error: BaseException | None = None
        self.max_gap = 0.0
        self.max_media_gap = 0.0
        self.null_packets = 0
        self._resp: aiohttp.ClientResponse | None = None
        self._task: asyncio.Task | None = None
        self._arrived = asyncio.Event()
        self._last_any = self._last_media = 0.0
        self._scanned = 0

    async def __aenter__(self) -> "RecordingViewer":
        self._resp = await self._http.get(self._url, headers=self._headers)
        self.status = self._resp.status
        if self.status != 200:
            text = await self._resp.text()
            self._resp.close()
            raise AssertionError(f"HTTP {self.status}: {text}")
        self._last_any = self._last_media = time.monotonic()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Hang up, like a player that is closed."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._resp is not None:
            self._resp.close()

    async def _read(self) -> None:
        assert self._resp is not None
        try:
            while True:
                chunk = await self._resp.content.readany()
                now = time.monotonic()
                if not chunk:
                    self.ended = True
                    break
                self.max_gap = max(self.max_gap, now - self._last_any)
                self._last_any = now
                self.data += chunk
                self._scan_packets(now)
                self._arrived.set()
        except aiohttp.ClientError as err:
            self.error = err
        finally:
            self._arrived.set()

    def _scan_packets(self, now: float) -> None:
        end = len(self.data) - len(self.data) % PACKET_SIZE
        media = False
        for at in range(self._scanned, end, PACKET_SIZE):
            if ((self.data[at + 1] & 0x1F) << 8 | self.data[at + 2]) == NULL_PID:
                self.null_packets += 1
            else:
                media = True
        self._scanned = end
        if media:
            self.max_media_gap = max(self.max_media_gap, now - self._last_media)
            self._last_media = now

    def reset_gaps(self) -> None:
        self.max_gap = self.max_media_gap = 0.0

    async def wait_bytes(self, nbytes: int, timeout: float = 15.0) -> None:
        """Wait until `nbytes` in total have arrived (or the stream ended)."""
        async with asyncio.timeout(timeout):
            while len(self.data) < nbytes and not self.ended and self.error is None:
                self._arrived.clear()
                await self._arrived.wait()
        if len(self.data) < nbytes:
            raise AssertionError(f"stream ended after {len(self.data)} of {nbytes} bytes")

    async def wait_more(self, nbytes: int, timeout: float = 15.0) -> None:
        await self.wait_bytes(len(self.data) + nbytes, timeout)

    @property
    def gone(self) -> bool:
        """The stream ended cleanly or broke off."""
        return self.ended or self.error is not None

    async def wait_ended(self, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.ended and self.error is None:
                self._arrived.clear()
                await self._arrived.wait()
