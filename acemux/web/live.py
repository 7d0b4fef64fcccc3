"""Close-delimited responses for live streams: the body ends when the connection does.

A live TS stream has no length, and acemux closes the connection when the
stream ends, so the least framing HTTP allows is none at all: an HTTP/1.1
response without Content-Length and with `Connection: close` is delimited by
the close (RFC 9112 §6.3, rule 8), as an HTTP/1.0 response always is. Each
chunk then goes to a viewer's socket as one buffer, with no chunked-encoding
size line and CRLF around it.

aiohttp's StreamResponse switches HTTP/1.1 responses without a length to
chunked encoding. Its `_length_check` class switch (the one WebSocketResponse
turns off) skips that decision and leaves the body as written; the response
is always force-closed, so aiohttp sends `Connection: close` for HTTP/1.1.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Mapping

from aiohttp import web


class CloseDelimitedResponse(web.StreamResponse):
    """A response whose body runs until acemux closes the connection."""

    _length_check = False  # no Content-Length and no chunked encoding: close-delimited

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__(headers=headers)
        self.force_close()  # the close is what ends the body; players reconnect afresh


async def start_live_response(
    request: web.Request, headers: Mapping[str, str]
) -> tuple[CloseDelimitedResponse, asyncio.Transport | None, Callable[[], Awaitable[None]]]:
    """Send the status line and headers: (response, its transport, its drain).

    The transport is None when the viewer already went away; otherwise the
    body is written straight to it (see acemux/streaming/viewer.py), and
    `drain` waits for it to drain below its low-water mark.
    """
    resp = CloseDelimitedResponse(headers)
    writer = await resp.prepare(request)
    transport = request.transport
    if writer is None or transport is None or transport.is_closing():
        return resp, None, _nothing_to_drain
    return resp, transport, writer.drain  # type: ignore[return-value]


async def _nothing_to_drain() -> None:
    return None
