"""FakeEngine: start, run and stop the fake AceStream engine on a real socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from .app import build_app
from .faults import Faults
from .sessions import Session, Sessions, infohash_of
from .state import EngineState
from .stats import Stats
from .tsloop import TsLoop, default_loop

log = logging.getLogger(__name__)

# A content id that always loads: the channel `acemux demo` plays.
DEMO_CONTENT_ID = "663801b6e463000aa469eee13e5a8a8827ba567f"
# Playback handlers end at once when the engine closes them; this only bounds
# a handler stuck writing to a client that stopped reading.
SHUTDOWN_TIMEOUT = 2.0


class FakeEngine:
    """A fake engine on ``host:port`` (port 0: a free one, see `url`).

    Keyword arguments are initial faults (see `Faults`), e.g. ``rate=8``.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, sample: TsLoop | None = None, **faults: Any
    ) -> None:
        self.host = host
        self.port = port
        self.faults = Faults(**faults)
        self.stats = Stats()
        self.sessions = Sessions()
        self._sample = sample
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("fake engine already started")
        state = EngineState(self.faults, self.stats, self.sessions, self._sample or default_loop())
        runner = web.AppRunner(
            build_app(state),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("fake AceStream engine listening on %s", self.url)

    async def stop(self) -> None:
        """Close every playback connection, then stop listening."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.sessions.end_all("engine stopping")
        await runner.cleanup()
        log.info("fake AceStream engine on %s stopped", self.url)

    async def wait_for(self, predicate: Callable[[Stats], bool], timeout: float = 5.0) -> None:
        """Wait until predicate(engine.stats) holds, e.g. ``lambda s: s.open_playback == 1``."""
        await self.stats.wait_for(predicate, timeout)

    def session_for(self, content_id: str) -> Session | None:
        """The current session of a content id, if one is running."""
        return self.sessions.current(infohash_of(content_id))

    async def __aenter__(self) -> FakeEngine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def run_fake_engine(host: str = "127.0.0.1", port: int = 6878, **faults: Any) -> None:
    """Serve until cancelled (the `acemux fake-engine` command)."""
    async with FakeEngine(host, port, **faults):
        await asyncio.Event().wait()
