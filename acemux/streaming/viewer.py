"""A Viewer: one HTTP client of a channel, written to straight through its transport.

The channel's reader writes each chunk to every caught-up viewer's transport
itself (one `write` per viewer per chunk: the response is close-delimited, see
acemux/web/live.py, so there is no framing), so there is no per-viewer queue or
task on the hot path. A
viewer whose socket backs up is handed to its own request task, which serves
it from the shared ring at the pace it drains.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

_ids = itertools.count(1)


class LiveTally:
    """Bytes a channel has written to its caught-up viewers, per viewer (each got them all).

    While a viewer is live its bytes are this tally's growth since it joined
    the live set, so the fan-out loop counts once per chunk, not per viewer.
    """

    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


class Viewer:
    __slots__ = (
        "id",
        "address",
        "user_agent",
        "user",
        "connected_at",
        "transport",
        "live",
        "cursor",
        "_sent",
        "_tally",
        "_tally_base",
        "skips",
        "_woken",
        "_waiter",
        "ended",
        "end_reason",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
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
        self.live = False  # True while the reader writes to it directly
        self.cursor = 0  # next ring sequence it needs, while not live
        self._sent = 0  # bytes written by `send`
        self._tally: LiveTally | None = None  # while live: the channel's live tally
        self._tally_base = 0  # its value when the viewer went live
        self.skips = 0  # times it fell out of the ring and was moved to the live edge
        # Its request task has work (lag or end) when woken. A bare future, made
        # only while the task waits: an asyncio.Event would cost a deque per viewer.
        self._woken = False
        self._waiter: asyncio.Future | None = None
        self.ended = False
        self.end_reason = ""

    def send(self, chunk: bytes) -> None:
        self.transport.write(chunk)
        self._sent += len(chunk)

    @property
    def bytes_sent(self) -> int:
        tally = self._tally
        return self._sent + (tally.bytes - self._tally_base if tally is not None else 0)

    def go_live(self, tally: LiveTally) -> None:
        """From now on the channel's reader writes to it (and counts it in `tally`)."""
        self.live = True
        self._tally, self._tally_base = tally, tally.bytes

    def leave_live(self) -> None:
        tally = self._tally
        if tally is not None:
            self._sent += tally.bytes - self._tally_base
            self._tally = None
        self.live = False

    def wake(self) -> None:
        """Tell its request task there is work: it fell behind, or it ends."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def woken(self) -> asyncio.Future:
        """A future done when it is woken; at once if it was since `clear_wake`."""
        waiter = asyncio.get_running_loop().create_future()
        if self._woken:
            waiter.set_result(None)
        self._waiter = waiter
        return waiter

    def clear_wake(self) -> None:
        self._woken = False
        self._waiter = None

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size()

    def end(self, reason: str) -> None:
        """Ask its request task to finish the response."""
        if not self.ended:
            self.ended = True
            self.end_reason = reason
            self.leave_live()
            self.wake()

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
