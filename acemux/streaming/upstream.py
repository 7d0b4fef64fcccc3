"""What a ChannelSession can read instead of an engine (the engine is its default).

A profile's channel reads an ffmpeg (acemux/profiles/upstream.py); a future
source can be another upstream. The session keeps everything else (ring,
fan-out, join points, keep-alive, stall detection, reconnects with backoff):
an upstream only starts, opens connections and stops.
"""

from __future__ import annotations

from typing import Protocol


class UpstreamBody(Protocol):
    async def read(self, size: int) -> bytes: ...


class UpstreamConnection(Protocol):
    """One connection: read until b"" (its end); close() ends it at once."""

    content: UpstreamBody

    def close(self) -> None: ...


class Upstream(Protocol):
    async def start(self) -> None:
        """Before the first connection and before a reconnect after repeated failures.

        The first call's AcemuxError is the channel's start error (the first
        viewers get it as their HTTP error).
        """

    async def open(self) -> UpstreamConnection:
        """A new connection; an AcemuxError counts as a failed reconnect."""

    async def stop(self) -> None:
        """The channel closed: release everything."""

    def describe(self) -> dict: ...
