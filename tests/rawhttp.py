"""HTTP spoken by hand over a real socket, for what aiohttp's client hides.

aiohttp's client never shows bytes a server sends after a HEAD's headers, nor
how an HTTP/1.0 body is delimited (players, Plex's HTTP/1.0 tuner scans). A RawConnection sends the request bytes a
player sends and reads exactly what comes back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from multidict import CIMultiDict

MAX_HEAD = 64 * 1024


class RawConnection:
    def __init__(self, port: int, timeout: float = 15.0) -> None:
        self._port, self._timeout = port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> "RawConnection":
        self._reader, self._writer = await asyncio.open_connection(
            "127.0.0.1", self._port, limit=MAX_HEAD
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:
                pass

    def send(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        version: str = "1.1",
    ) -> None:
        lines = [f"{method} {target} HTTP/{version}", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        assert self._writer is not None
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def read_head(self) -> tuple[str, int, CIMultiDict[str]]:
        """The status line's version and status, and the headers, of the next response."""
        assert self._reader is not None
        async with asyncio.timeout(self._timeout):
            head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        version, status, _ = status_line.split(" ", 2)
        headers: CIMultiDict[str] = CIMultiDict()
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
        return version, int(status), headers

    async def read_exactly(self, nbytes: int) -> bytes:
        assert self._reader is not None
        async with asyncio.timeout(self._timeout):
            return await self._reader.readexactly(nbytes)

    async def read_to_eof(self, limit: int = 64 * 1024 * 1024) -> bytes:
        """Everything until the server closes (at most `limit` bytes, then it is a failure)."""
        assert self._reader is not None
        data = bytearray()
        async with asyncio.timeout(self._timeout):
            while chunk := await self._reader.read(65536):
                data += chunk
                assert len(data) <= limit, f"more than {limit} bytes before the server closed"
        return bytes(data)


async def head_request(
    port: int, target: str, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    """A HEAD on its own connection: status, headers and every byte sent after them."""
    async with RawConnection(port) as conn:
        conn.send("HEAD", target, {"Connection": "close", **(headers or {})})
        _, status, response_headers = await conn.read_head()
        return status, response_headers, await conn.read_to_eof(limit=0)


@dataclass
class RawResponse:
    version: str
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


async def raw_request(
    port: int, path: str, method: str = "GET", version: str = "1.0", timeout: float = 10
) -> RawResponse:
    """One request on its own connection, read to the end (the server closes it)."""
    headers = {} if version == "1.0" else {"Connection": "close"}
    if method == "POST":
        headers["Content-Length"] = "0"
    async with RawConnection(port, timeout) as conn:
        conn.send(method, path, headers, version)
        proto, status, response_headers = await conn.read_head()
        body = await conn.read_to_eof()
    return RawResponse(proto, status, {k.lower(): v for k, v in response_headers.items()}, body)
