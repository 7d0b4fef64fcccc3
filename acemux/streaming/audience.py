"""Audience: everyone watching a channel, fed from its ring without slowing its reader.

The reader hands each chunk to `fanout`, which writes it straight to every
caught-up viewer's transport (one `write` per viewer per chunk, no queue, no
task, no check). A viewer whose socket backs up (its transport says so, from
inside the write: see TransportWatch) is handed to its own request task
(`serve`), which feeds it from the ring at the pace its socket drains, moves it
to the live edge when it falls out of the ring, and drops it when it stalls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable, Callable

from acemux.config import Settings
from acemux.logs import ids
from acemux.streaming.events import VIEWER_STALLED
from acemux.streaming.index import JoinPoint
from acemux.streaming.ts import null_packets
from acemux.streaming.viewer import LiveSet, Viewer

if TYPE_CHECKING:
    from acemux.streaming.session import ChannelSession

log = logging.getLogger(__name__)

FILLER = null_packets(7)  # ~42 kbit/s at one burst per heartbeat


class Audience:
    def __init__(self, session: "ChannelSession", settings: Settings) -> None:
        self._session = session
        self._ring = session.ring
        self._stall_seconds = settings.client_stall_seconds
        self.viewers: dict[int, Viewer] = {}
        self._live = LiveSet(self._ring)  # caught up: written to by fanout
        self.bytes_out_departed = 0  # bytes sent to viewers that have left

    @property
    def bytes_out(self) -> int:
        return self.bytes_out_departed + sum(v.bytes_sent for v in self.viewers.values())

    def fanout(self, chunk: bytes) -> None:
        """Write a chunk to every caught-up viewer: one call per viewer, the hot path.

        A transport that backs up on this write hands its viewer to the
        viewer's task (Viewer.backed_up), which marks the set stale: the next
        chunk goes to the viewers still live.
        """
        live = self._live
        if live.stale:
            live.rebuild()
        writes = iter(live.writes)
        while True:
            try:
                for write in writes:
                    write(chunk)
                break
            except RuntimeError:  # its handle closed under the loop; connection_lost follows
                live.stale = True
        live.bytes += len(chunk)

    def send_filler(self) -> None:
        """Null packets to caught-up viewers, so players keep a silent stream open."""
        for viewer in self._live.viewers:
            if viewer.live and not viewer.transport.is_closing():
                viewer.send(FILLER)

    def end_all(self, reason: str) -> None:
        for viewer in list(self.viewers.values()):
            viewer.end(reason)
        self._live.clear()

    def drop(self, viewer: Viewer, reason: str) -> None:
        """Disconnect a viewer at once, even when its socket is backed up."""
        viewer.end(reason)
        viewer.transport.abort()

    async def serve(self, viewer: Viewer, drain: Callable[[], Awaitable[object]]) -> None:
        """Run in the viewer's request task until the viewer or the channel ends.

        `drain` awaits the viewer's transport draining below its low-water mark.
        """
        session = self._session
        self.viewers[viewer.id] = viewer
        session.events.viewer_joined(session, viewer)
        self._place_new_viewer(viewer)
        try:
            while not viewer.ended:
                viewer.clear_wake()
                if viewer.live:
                    await viewer.woken()
                else:
                    await self._catch_up(viewer, drain)
        finally:
            self.viewers.pop(viewer.id, None)
            self.bytes_out_departed += viewer.bytes_sent
            viewer.leave_live()
            session.events.viewer_left(session, viewer, viewer.end_reason or "disconnected")

    def _place_new_viewer(self, viewer: Viewer) -> None:
        join = self._ring.latest_join()
        if join is None:
            # Nothing decodable held yet: null packets at once, so the player
            # sees a stream, then the next chunk the engine sends.
            viewer.send(FILLER)
            viewer.cursor = self._ring.next_seq
        else:
            self._send_from_join(viewer, join)

    def _send_from_join(self, viewer: Viewer, join: tuple[int, JoinPoint]) -> None:
        """Send the held chunk from a join point on; the rest follows from the ring."""
        seq, point = join
        chunk = self._ring.get(seq)
        assert chunk is not None, "join points never outlive their chunk"
        tail = point.prefix + chunk[point.offset :] if point.offset or point.prefix else chunk
        viewer.send(tail)
        viewer.cursor = seq + 1

    async def _catch_up(self, viewer: Viewer, drain: Callable[[], Awaitable[object]]) -> None:
        """Serve a viewer that is behind from the ring until it reaches the live edge."""
        ring = self._ring
        while not viewer.ended:
            if viewer.transport.is_closing():
                viewer.end("viewer disconnected")
                return
            if viewer.paused:
                await self._wait_drained(viewer, drain)
                continue
            if viewer.cursor < ring.first_seq:
                self._skip_to_live_edge(viewer)
                continue
            chunk = ring.get(viewer.cursor)
            if chunk is None:  # reached the newest chunk: the reader takes over
                viewer.go_live(self._live)
                return
            viewer.send(chunk)
            viewer.cursor += 1

    def _skip_to_live_edge(self, viewer: Viewer) -> None:
        session = self._session
        viewer.skips += 1
        session.events.viewer_skipped(session, viewer)
        log.info(
            "channel %s: viewer %d fell out of the buffer, skipped ahead",
            session.key.name,
            viewer.id,
            extra=ids(session.key.name, viewer.id),
        )
        join = self._ring.latest_join()
        if join is None:
            viewer.cursor = self._ring.next_seq
        else:
            self._send_from_join(viewer, join)

    async def _wait_drained(self, viewer: Viewer, drain: Callable[[], Awaitable[object]]) -> None:
        """Wait for the viewer's socket to drain; drop it if it stays stalled too long."""
        drained = asyncio.ensure_future(drain())
        woken = viewer.woken()
        try:
            done, _ = await asyncio.wait(
                (drained, woken),
                timeout=self._stall_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            drained.cancel()
            woken.cancel()
        if not done:
            name = self._session.key.name
            log.info(
                "channel %s: viewer %d stalled, disconnecting",
                name,
                viewer.id,
                extra=ids(name, viewer.id),
            )
            self.drop(viewer, VIEWER_STALLED)
        elif drained in done and drained.exception() is not None:
            viewer.end("viewer disconnected")
