"""Hooks the streaming path calls when something happens to a channel or viewer.

The metrics implement them; the default does nothing, so the streaming code
never depends on how it is observed. Hooks are called on the event loop and
must return quickly without awaiting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acemux.streaming.session import ChannelSession
    from acemux.streaming.viewer import Viewer


class ChannelEvents:
    def channel_opened(self, session: "ChannelSession") -> None:
        pass

    def channel_closed(self, session: "ChannelSession", reason: str) -> None:
        pass

    def first_byte(self, session: "ChannelSession", seconds: float) -> None:
        """The engine's first stream byte arrived `seconds` after the channel opened."""

    def upstream_error(self, session: "ChannelSession", cause: str) -> None:
        """An upstream connection ended or failed; cause is one of UPSTREAM_CAUSES."""

    def reconnect(self, session: "ChannelSession") -> None:
        pass

    def channel_failed(self, session: "ChannelSession", task: str, error: BaseException) -> None:
        """A task of the channel (reader, heartbeat, stats, close) raised; the channel ends."""

    def viewer_joined(self, session: "ChannelSession", viewer: "Viewer") -> None:
        pass

    def viewer_left(self, session: "ChannelSession", viewer: "Viewer", reason: str) -> None:
        pass

    def viewer_skipped(self, session: "ChannelSession", viewer: "Viewer") -> None:
        """A viewer fell out of the ring and was moved to the live edge."""


UPSTREAM_CAUSES = ("eof", "error", "stall", "open_failed", "getstream_failed", "failover")

# The reason a viewer that takes no data for too long leaves with.
VIEWER_STALLED = "viewer stalled"
