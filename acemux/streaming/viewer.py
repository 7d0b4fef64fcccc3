"""A Viewer: one HTTP client of a channel, written to straight through its transport.

The channel's reader writes each chunk to every caught-up viewer's transport
itself (one `writelines` per viewer per chunk, the chunked-encoding framing
written here), so there is no per-viewer queue or task on the hot path. A
viewer whose socket backs up is handed to its own request task, which serves
it from the shared ring at the pace it drains.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

CRLF = b"\r\n"

_ids = itertools.count(1)


class Viewer:
    __slots__ = (
        "id",
        "address",
        "user_agent",
        "user",
        "connected_at",
        "transport",
        "chunked",
        "live",
        "cursor",
        "bytes_sent",
        "skips",
        "wake",
        "ended",
        "end_reason",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        chunked: bool,
        address: str = "",
        user_agent: str = "",
        user: str | None = None,
    ) -> None:
        self.id = next(_ids)
        self.address = address
        self.user_agent = user_agent
        self.user = user  # the named user watching, when acemux has users
        self.connected_at = time.time()
        self.transport = transport
        self.chunked = chunked
        self.live = False  # True while the reader writes to it directly
        self.cursor = 0  # next ring sequence it needs, while not live
        self.bytes_sent = 0
        self.skips = 0  # times it fell out of the ring and was moved to the live edge
        self.wake = asyncio.Event()  # set when its request task has work: lag or end
        self.ended = False
        self.end_reason = ""

    def send(self, chunk: bytes, size_line: bytes) -> None:
        """Write one chunk; `size_line` is its chunked-encoding size header."""
        if self.chunked:
            self.transport.writelines((size_line, chunk, CRLF))
        else:
            self.transport.write(chunk)
        self.bytes_sent += len(chunk)

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size()

    def end(self, reason: str) -> None:
        """Ask its request task to finish the response."""
        if not self.ended:
            self.ended = True
            self.end_reason = reason
            self.live = False
            self.wake.set()

    def describe(self) -> dict:
        return {
            "id": self.id,
            "address": self.address,
            "user_agent": self.user_agent,
            "user": self.user,
            "connected_at": self.connected_at,
            "bytes_sent": self.bytes_sent,
            "live": self.live,
            "skips": self.skips,
            "backlog_bytes": self.backlog() if not self.transport.is_closing() else 0,
        }


def size_line(chunk: bytes) -> bytes:
    return b"%x\r\n" % len(chunk)


# A viewer whose device vanished without closing (suspended, Wi-Fi lost) is found
# by TCP keep-alive after ~IDLE + INTERVAL * COUNT seconds, even when nothing is
# queued for it (e.g. its channel is reconnecting).
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 20, 5, 3


def enable_keepalive(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, name):  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
