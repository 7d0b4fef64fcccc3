"""HLS viewers of a channel: what keeps the channel open while they poll, and who they are.

HLS players hold no connection: they fetch the playlist and segments every few
seconds. An HlsChannel holds its ChannelSession (one hold, like one more TS
viewer) while requests keep coming and lets go after `hls_idle_seconds`
without any; the session's own grace period and engine stop follow. HLS and
TS viewers of a channel share the one session, so the engine sees one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from acemux.config import Settings
from acemux.errors import BadRequest, EngineError, EngineTimeout
from acemux.streaming.key import ChannelKey
from acemux.streaming.segments import Segmenter
from acemux.streaming.session import ChannelSession

log = logging.getLogger(__name__)

# Join points without a keyframe PTS, seen before any segment: the channel has no video.
UNTIMED_JOINS_LIMIT = 8
MAX_TRACKED_CLIENTS = 1024  # distinct (address, user agent) pairs remembered per channel


class HlsChannel:
    def __init__(
        self,
        session: ChannelSession,
        settings: Settings,
        on_ended: Callable[["HlsChannel"], None],
    ) -> None:
        self.session = session
        self.segmenter = Segmenter(session.ring, settings.hls_segment_seconds)
        self._idle_seconds = settings.hls_idle_seconds
        self._on_ended = on_ended
        self._loop = asyncio.get_running_loop()
        self._clients: dict[tuple[str, str], float] = {}  # -> when last seen
        self._last_seen = self._loop.time()
        self.requests = 0
        self.bytes_sent = 0
        self.held = False
        self._hold()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(
            self._idle_seconds, self._check
        )

    def touch(self, address: str, user_agent: str) -> None:
        """A playlist or segment request: the channel stays held for another idle period."""
        now = self._loop.time()
        self._last_seen = now
        self.requests += 1
        client = (address, user_agent)
        self._clients.pop(client, None)  # re-inserted last: the dict stays oldest-first
        self._clients[client] = now
        if len(self._clients) > MAX_TRACKED_CLIENTS:
            del self._clients[next(iter(self._clients))]
        if not self.held and not self.session.closing:
            log.info("channel %s: HLS requests again, holding it", self.session.key.name)
            self._hold()

    def _hold(self) -> None:
        self.session.hold()
        self.held = True

    def _check(self) -> None:
        """Once per idle period (not per request): let go when idle, end with the session.

        A channel let go is kept while its session lives (TS viewers, the grace
        period), so an HLS player coming back keeps its segment numbers.
        """
        if self.session.closing:
            self.close()
            self._on_ended(self)
            return
        idle_for = self._loop.time() - self._last_seen
        if self.held and idle_for >= self._idle_seconds:
            log.info(
                "channel %s: no HLS requests for %g s, letting it go",
                self.session.key.name,
                self._idle_seconds,
            )
            self.held = False
            self.session.release()
        delay = self._idle_seconds - idle_for if self.held else self._idle_seconds
        self._timer = self._loop.call_later(delay, self._check)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.held:
            self.held = False
            self.session.release()

    def viewers(self) -> list[dict]:
        """The clients seen within the idle period: a player polls well within it."""
        now = self._loop.time()
        since = now - self._idle_seconds
        return [
            {"address": address, "user_agent": agent, "last_seen_seconds": round(now - seen, 3)}
            for (address, agent), seen in self._clients.items()
            if seen >= since
        ]

    async def wait_ready(self, timeout: float) -> None:
        """Return once a first segment is complete (a fresh channel has none yet)."""
        segmenter = self.segmenter
        try:
            async with asyncio.timeout(timeout):
                while True:
                    segmenter.update()
                    if segmenter.segments:
                        return
                    if segmenter.untimed_joins >= UNTIMED_JOINS_LIMIT:
                        raise BadRequest(
                            "this channel has no video keyframes to cut HLS segments at: "
                            "play it as MPEG-TS (/ace/getstream)"
                        )
                    if self.session.closing:
                        reason = self.session.last_error or "channel stopped"
                        raise EngineError(f"channel ended before its first HLS segment: {reason}")
                    await self.session.wait_for_data()
        except TimeoutError:
            raise EngineTimeout(
                f"no complete HLS segment within {timeout:g} s (is the engine prebuffering?)"
            ) from None

    def describe(self) -> dict:
        segments = self.segmenter.segments
        viewers = self.viewers()
        return {
            "id": self.session.key.value,
            "key": self.session.key.name,
            "held": self.held,
            "viewers": len(viewers),
            "clients": viewers,
            "segments": len(segments),
            "media_sequence": segments[0].number if segments else None,
            "requests": self.requests,
            "bytes_sent": self.bytes_sent,
        }


class HlsChannels:
    """The HLS side of the channels: one HlsChannel per live ChannelSession."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._channels: dict[ChannelKey, HlsChannel] = {}

    def attach(self, session: ChannelSession) -> HlsChannel:
        """The session's HlsChannel, made (and holding it) on its first HLS request."""
        channel = self._channels.get(session.key)
        if channel is not None and channel.session is session:
            return channel
        if channel is not None:  # of an earlier session of the key, now ended
            channel.close()
        channel = HlsChannel(session, self._settings, self._forget)
        self._channels[session.key] = channel
        log.info("channel %s: serving HLS", session.key.name)
        return channel

    def find(self, key: ChannelKey) -> HlsChannel | None:
        """The channel's HlsChannel while its session lives; segments need no new session."""
        channel = self._channels.get(key)
        if channel is None or channel.session.closing:
            return None
        return channel

    def _forget(self, channel: HlsChannel) -> None:
        if self._channels.get(channel.session.key) is channel:
            del self._channels[channel.session.key]

    def describe(self) -> list[dict]:
        return [c.describe() for c in self._channels.values() if not c.session.closing]

    def __len__(self) -> int:
        return len(self._channels)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
