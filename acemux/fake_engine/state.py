"""Everything the fake engine's request handlers share, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .faults import Faults
from .sessions import Session, Sessions
from .stats import Stats
from .tsloop import TsLoop, ac3_loop

# A content id the fake engine always plays with AC-3 audio (H.264 video, as the others).
AC3_CONTENT_ID = "ac3a11ce5e0d0fa7c0dec0ffee0000000ac3ac3a"


@dataclass
class EngineState:
    faults: Faults
    stats: Stats
    sessions: Sessions
    ts: TsLoop

    def sample_for(self, session: Session) -> TsLoop:
        """The AC-3 sample for AC3_CONTENT_ID and the `ac3_ids` fault's ids, else `ts`."""
        wanted = {session.content_id.lower(), session.infohash}
        if AC3_CONTENT_ID in wanted or wanted & self.faults.ac3_ids:
            return ac3_loop()
        return self.ts


STATE = web.AppKey("fake_engine_state", EngineState)
