"""A Viewer: one HTTP client of a channel, written to straight through its transport.

The channel's reader writes each chunk to every caught-up viewer's transport
itself (one `write` per viewer per chunk: the response is close-delimited, see
acemux/web/live.py, so there is no framing), so there is no per-viewer queue,
task or check on the hot path. The transport says when it backs up: a
`TransportWatch` stands between it and its protocol and hands the viewer to
its own request task, which serves it from the shared ring at the pace it
drains.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from acemux.streaming.ring import ChunkRing

_ids = itertools.count(1)


class LiveSet:
    """A channel's caught-up viewers, as its fan-out loop wants them: one bound write each.

    `bytes` counts what the loop wrote to each of them (each got them all), so
    a live viewer's bytes are its growth since the viewer joined: the loop
    counts once per chunk, not per viewer. A viewer leaves by marking the set
    stale (its transport backed up or closed, or it ended); the loop rebuilds
    `writes` before its next chunk, never while it iterates them.
    """

    __slots__ = ("bytes", "viewers", "writes", "stale", "_ring")

    def __init__(self, ring: "ChunkRing") -> None:
        self.bytes = 0
        self.viewers: list[Viewer] = []
        self.writes: list[Callable[[bytes], object]] = []  # each viewer's transport.write
        self.stale = False
        self._ring = ring

    def add(self, viewer: "Viewer") -> None:
        """Add a viewer going live; a stale set still holding its old place drops that first."""
        if self.stale:
            self.rebuild()
        self.viewers.append(viewer)
        self.writes.append(viewer.transport.write)

    def rebuild(self) -> None:
        self.viewers = [v for v in self.viewers if v.live]
        self.writes = [v.transport.write for v in self.viewers]
        self.stale = False

    def clear(self) -> None:
        self.viewers, self.writes, self.stale = [], [], False

    def next_seq(self) -> int:
        """The ring sequence after the newest chunk: a live viewer has every one before it."""
        return self._ring.next_seq


class TransportWatch(asyncio.Protocol):
    """Stands between a viewer's transport and its protocol, and tells the viewer its state.

    Everything is passed on to the protocol it replaces (aiohttp's request
    handler, or a pipe's), which keeps its own flow control (`drain`). The
    transport calls `pause_writing` from inside the very write that took it
    over its high-water mark, and `connection_lost` when it is gone: so the
    fan-out loop writes and never asks.
    """

    __slots__ = ("_inner", "_viewer")

    def __init__(self, inner: asyncio.BaseProtocol, viewer: "Viewer") -> None:
        self._inner = inner
        self._viewer: Viewer | None = viewer

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[attr-defined]

    def pause_writing(self) -> None:
        self._inner.pause_writing()
        if self._viewer is not None:
            self._viewer.backed_up()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
        if self._viewer is not None:
            self._viewer.paused = False

    def connection_lost(self, exc: Exception | None) -> None:
        viewer, self._viewer = self._viewer, None  # no cycle left through the transport
        self._inner.connection_lost(exc)
        if viewer is not None:
            viewer.end("viewer disconnected")


class Viewer:
    __slots__ = (
        "id",
        "address",
        "user_agent",
        "user",
        "connected_at",
        "transport",
        "live",
        "paused",
        "cursor",
        "_sent",
        "_live_set",
        "_live_base",
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
        # Its transport went over its high-water mark and has not drained to its
        # low one yet (the transport said so; the watch is set up before any body).
        self.paused = False
        self.cursor = 0  # next ring sequence it needs, while not live
        self._sent = 0  # bytes written by `send`
        self._live_set: LiveSet | None = None  # while live: the channel's live set
        self._live_base = 0  # its bytes when the viewer went live
        self.skips = 0  # times it fell out of the ring and was moved to the live edge
        # Its request task has work (lag or end) when woken. A bare future, made
        # only while the task waits: an asyncio.Event would cost a deque per viewer.
        self._woken = False
        self._waiter: asyncio.Future | None = None
        self.ended = False
        self.end_reason = ""
        transport.set_protocol(TransportWatch(transport.get_protocol(), self))

    def send(self, chunk: bytes) -> None:
        self.transport.write(chunk)
        self._sent += len(chunk)

    @property
    def bytes_sent(self) -> int:
        live = self._live_set
        return self._sent + (live.bytes - self._live_base if live is not None else 0)

    def go_live(self, live: LiveSet) -> None:
        """From now on the channel's reader writes to it (and counts it in `live`)."""
        live.add(self)
        self.live = True
        self._live_set, self._live_base = live, live.bytes

    def leave_live(self) -> None:
        live = self._live_set
        if live is not None:
            self._sent += live.bytes - self._live_base
            self._live_set = None
            live.stale = True
        self.live = False

    def backed_up(self) -> None:
        """Its transport went over its high-water mark (called by the transport)."""
        self.paused = True
        live = self._live_set
        if live is not None:
            # The reader wrote it every chunk up to the newest: its task goes on from there.
            self.cursor = live.next_seq()
            self.leave_live()
            self.wake()

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
