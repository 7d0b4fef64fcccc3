"""An HLS channel's hold on its session: taken on the first request, let go when idle."""

from __future__ import annotations

import asyncio

import pytest

from acemux.config import Settings
from acemux.errors import BadRequest, EngineTimeout
from acemux.streaming.hls import UNTIMED_JOINS_LIMIT, HlsChannels
from acemux.streaming.index import JoinPoint
from acemux.streaming.key import ChannelKey
from acemux.streaming.ring import ChunkRing
from tests.tspackets import packet

IDLE = 0.1


class FakeSession:
    """What an HlsChannel uses of a ChannelSession."""

    def __init__(self) -> None:
        self.key = ChannelKey("id", "a" * 40)
        self.ring = ChunkRing(1 << 20)
        self.refs = 0
        self.state = "playing"
        self.last_error = ""
        self.released = asyncio.Event()

    def hold(self) -> None:
        self.refs += 1

    async def wait_for_data(self) -> None:
        await asyncio.Event().wait()  # no data ever arrives here

    def release(self) -> None:
        self.refs -= 1
        self.released.set()

    @property
    def closing(self) -> bool:
        return self.state in ("closing", "closed")


@pytest.fixture
def channels() -> HlsChannels:
    return HlsChannels(Settings(hls_idle_seconds=IDLE))


async def test_held_while_requests_come_then_let_go():
    # A longer idle time than the other tests': requests every fifth of it stay
    # well inside it even when a loaded machine delays the loop.
    idle = 1.0
    channels = HlsChannels(Settings(hls_idle_seconds=idle))
    session = FakeSession()
    channel = channels.attach(session)
    assert session.refs == 1 and channels.attach(session) is channel
    for _ in range(12):  # requests for over twice the idle time
        await asyncio.sleep(idle / 5)
        channel.touch("10.0.0.1", "player")
    assert session.refs == 1
    await asyncio.wait_for(session.released.wait(), idle * 5)
    assert session.refs == 0 and not channel.held
    channel.touch("10.0.0.1", "player")  # back before the session ended: held again
    assert session.refs == 1 and channels.find(session.key) is channel
    channels.close()
    assert session.refs == 0


async def test_forgotten_once_its_session_ended(channels):
    session = FakeSession()
    channels.attach(session)
    session.state = "closed"
    assert channels.find(session.key) is None
    await asyncio.wait_for(session.released.wait(), IDLE * 5)
    assert len(channels) == 0 and session.refs == 0


async def test_viewers_are_the_clients_seen_within_the_idle_time(channels):
    channel = channels.attach(FakeSession())
    channel.touch("10.0.0.1", "hls.js")
    channel.touch("10.0.0.2", "VLC")
    channel.touch("10.0.0.1", "hls.js")
    assert [v["user_agent"] for v in channel.viewers()] == ["VLC", "hls.js"]
    await asyncio.sleep(IDLE * 1.5)
    channel.touch("10.0.0.2", "VLC")
    assert [v["address"] for v in channel.viewers()] == ["10.0.0.2"]
    channels.close()


async def test_a_channel_without_video_keyframes_fails_fast(channels):
    session = FakeSession()
    channel = channels.attach(session)
    for _ in range(UNTIMED_JOINS_LIMIT):
        session.ring.append(packet(0, pusi=True), [JoinPoint(0, b"")])  # audio only: PATs
    with pytest.raises(BadRequest, match="no video keyframes"):
        await channel.wait_ready(5)
    channels.close()


async def test_no_segment_in_time_is_a_timeout(channels):
    channel = channels.attach(FakeSession())
    with pytest.raises(EngineTimeout):
        await channel.wait_ready(0.2)
    channels.close()
