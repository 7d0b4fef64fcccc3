"""HTTP requests written by hand on a raw socket, for HTTP/1.0 clients (Plex's tuner scans)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


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
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            close = "Connection: close\r\n" if version != "1.0" else ""
            length = "Content-Length: 0\r\n" if method == "POST" else ""
            head = f"{method} {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{close}{length}\r\n"
            writer.write(head.encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    proto, status, *_ = status_line.split(" ")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(proto, int(status), headers, body)
