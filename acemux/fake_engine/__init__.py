"""A faithful fake AceStream engine: the demo's default engine and the tests' double.

It serves the engine's HTTP API on a real socket and streams a looped,
seamless MPEG-TS sample, with faults (drops, stalls, garbage, errors, slow
prebuffer) switchable at run time.
"""

from .engine import DEMO_CONTENT_ID, FakeEngine, run_fake_engine
from .faults import Faults
from .sessions import infohash_of
from .state import AC3_CONTENT_ID
from .stats import Stats
from .tsloop import TsLoop, default_loop

__all__ = [
    "AC3_CONTENT_ID",
    "DEMO_CONTENT_ID",
    "FakeEngine",
    "Faults",
    "Stats",
    "TsLoop",
    "default_loop",
    "infohash_of",
    "run_fake_engine",
]
