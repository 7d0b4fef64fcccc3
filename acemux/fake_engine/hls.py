"""The engine's HLS output, imitated: a live sliding-window playlist and its segments.

`/ace/manifest.m3u8` starts a session like getstream does (and, like it,
replaces the content's previous session); its playback URL is the playlist
`/ace/m/<infohash>/<token>.m3u8`. Segments are cut from the looped sample at
keyframes, each starting with PAT, PMT and the keyframe, and named like the
engine's: `/ace/c/<infohash>/<n>.ts`. They belong to the session: once it is
stopped or replaced, the playlist answers 403 and the segments 404.

The live timeline is the one `start_mode=live` playback follows (real time x
rate since the content first started), taken to have been on air for a
window already, so a fresh session lists segments at once.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from functools import cache

from aiohttp import web

from acemux.streaming.index import StreamIndex

from .state import STATE
from .tsloop import TS_CLOCK, TsLoop

SEGMENT_SECONDS = 2.0  # keyframes are merged into segments of about this length
WINDOW = 5  # segments listed
KEPT = 10  # segments still served after they left the playlist


@dataclass(frozen=True, slots=True)
class _Cut:
    offset: int  # byte offset of the keyframe's packet in a loop
    prefix: bytes  # PAT and PMT copies
    seconds: float  # its time from the loop's first cut


class HlsTimeline:
    """Segment n of the endless stream: loop n // per_loop, cut n % per_loop."""

    def __init__(self, ts: TsLoop) -> None:
        self._ts = ts
        joins = [j for j in StreamIndex().scan(ts.loop_bytes(0)) if j.pts is not None]
        if not joins:
            raise ValueError("sample has no keyframes to cut HLS segments at")
        origin = joins[0].pts
        cuts: list[_Cut] = []
        for join in joins:
            seconds = (join.pts - origin) / TS_CLOCK
            if not cuts or seconds - cuts[-1].seconds >= SEGMENT_SECONDS * 0.95:
                cuts.append(_Cut(join.offset, join.prefix, seconds))
        self._cuts = cuts
        ends = [c.seconds for c in cuts[1:]] + [ts.duration_seconds]
        self._durations = [end - cut.seconds for cut, end in zip(cuts, ends)]
        self.target_duration = math.ceil(max(self._durations))

    @property
    def per_loop(self) -> int:
        return len(self._cuts)

    def duration(self, n: int) -> float:
        return self._durations[n % self.per_loop]

    def latest(self, media_seconds: float) -> int:
        """The newest segment complete at `media_seconds` into the timeline."""
        loops, within = divmod(media_seconds, self._ts.duration_seconds)
        done = sum(1 for cut, d in zip(self._cuts, self._durations) if cut.seconds + d <= within)
        return int(loops) * self.per_loop + done - 1

    def segment(self, n: int) -> bytes:
        loop, index = divmod(n, self.per_loop)
        cut = self._cuts[index]
        data = self._ts.loop_bytes(loop)
        if index + 1 < self.per_loop:
            return cut.prefix + data[cut.offset : self._cuts[index + 1].offset]
        # The loop's last segment runs on into the next loop, to its first keyframe.
        head = self._ts.loop_bytes(loop + 1)[: self._cuts[0].offset]
        return cut.prefix + data[cut.offset :] + head


@cache
def timeline(ts: TsLoop) -> HlsTimeline:
    return HlsTimeline(ts)


def _live_segment(request: web.Request, infohash: str) -> int:
    """The newest complete segment of the content's live timeline now."""
    state = request.app[STATE]
    clock = asyncio.get_running_loop().time()
    elapsed = clock - state.sessions.live_origin(infohash)
    line = timeline(state.ts)
    on_air = WINDOW * SEGMENT_SECONDS
    return line.latest(elapsed * (state.faults.rate or 1.0) + on_air)


async def playlist(request: web.Request) -> web.Response:
    state = request.app[STATE]
    infohash = request.match_info["infohash"]
    session = state.sessions.get(infohash, request.match_info["token"])
    if session is None:
        raise web.HTTPForbidden(text="unknown playback session")
    prebuffer = session.ready_at - asyncio.get_running_loop().time()
    if prebuffer > 0:  # like playback, nothing until the prebuffer is full
        await asyncio.sleep(prebuffer)
    line = timeline(state.ts)
    latest = _live_segment(request, session.infohash)
    first = max(latest - WINDOW + 1, 0)
    base = f"{request.scheme}://{request.host}/ace/c/{session.infohash}"
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{line.target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for n in range(first, latest + 1):
        lines += [f"#EXTINF:{line.duration(n):.6f},", f"{base}/{n}.ts"]
    return web.Response(text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl")


async def segment(request: web.Request) -> web.Response:
    state = request.app[STATE]
    infohash = request.match_info["infohash"].lower()
    n = int(request.match_info["n"])
    if state.sessions.current(infohash) is None:
        raise web.HTTPNotFound(text="no session")
    latest = _live_segment(request, infohash)
    if not latest - KEPT < n <= latest:
        raise web.HTTPNotFound(text="no such segment")
    data = timeline(state.ts).segment(n)
    state.stats.record_sent(len(data))
    return web.Response(body=data, content_type="video/mp2t")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ace/m/{infohash}/{token}.m3u8", playlist)
    app.router.add_get(r"/ace/c/{infohash}/{n:\d{1,18}}.ts", segment)
