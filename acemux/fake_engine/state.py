"""Everything the fake engine's request handlers share, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .faults import Faults
from .sessions import Sessions
from .stats import Stats
from .tsloop import TsLoop


@dataclass
class EngineState:
    faults: Faults
    stats: Stats
    sessions: Sessions
    ts: TsLoop


STATE = web.AppKey("fake_engine_state", EngineState)
