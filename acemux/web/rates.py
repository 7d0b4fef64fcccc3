"""RateSampler: per-channel bitrates from byte counters sampled once a second.

The streaming path only counts bytes; rates are differences of those counts
over time, kept here for the last minute so the API can report a current
bitrate and the dashboard can draw a sparkline.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import NamedTuple

from acemux.streaming.registry import ChannelRegistry
from acemux.streaming.session import ChannelSession
from acemux.tasks import cancel_and_wait
from acemux.wakeups import piggyback

SAMPLE_SECONDS = 1.0
HISTORY = 60  # samples kept per channel
RATE_WINDOW = 5.0  # seconds the current bitrate is averaged over


class Sample(NamedTuple):
    at: float  # monotonic seconds
    bytes_in: int
    bytes_out: int


class RateSampler:
    def __init__(self, registry: ChannelRegistry, interval: float = SAMPLE_SECONDS) -> None:
        self._registry = registry
        self.interval = interval
        self._samples: dict[ChannelSession, deque[Sample]] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rate-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            self.sample()
            await piggyback().sleep(self.interval)

    def sample(self) -> None:
        """Record every channel's counters now; forget channels that have closed."""
        now = time.monotonic()
        live = self._registry.sessions()
        for session in live:
            samples = self._samples.get(session)
            if samples is None:
                samples = self._samples[session] = deque(maxlen=HISTORY + 1)
            samples.append(Sample(now, session.bytes_in, session.bytes_out))
        if len(self._samples) != len(live):
            keep = set(live)
            self._samples = {s: d for s, d in self._samples.items() if s in keep}

    def bitrates(self, session: ChannelSession) -> tuple[float | None, float | None]:
        """(in, out) in bits per second over the last few seconds; None until measurable."""
        samples = self._samples.get(session)
        if not samples:
            return None, None
        now = time.monotonic()
        base = samples[0]
        for sample in reversed(samples):
            if now - sample.at >= RATE_WINDOW:
                base = sample
                break
        elapsed = now - base.at
        if elapsed < self.interval / 2:
            return None, None
        return (
            (session.bytes_in - base.bytes_in) * 8 / elapsed,
            (session.bytes_out - base.bytes_out) * 8 / elapsed,
        )

    def history(self, session: ChannelSession) -> dict[str, list[float]]:
        """Bitrates between consecutive samples, oldest first, for a sparkline."""
        samples = list(self._samples.get(session, ()))
        pairs = [(a, b, b.at - a.at) for a, b in zip(samples, samples[1:]) if b.at > a.at]
        return {
            "bitrate_in": [round((b.bytes_in - a.bytes_in) * 8 / dt) for a, b, dt in pairs],
            "bitrate_out": [round((b.bytes_out - a.bytes_out) * 8 / dt) for a, b, dt in pairs],
        }
