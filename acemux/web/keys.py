"""Typed keys for what the aiohttp application carries."""

from aiohttp import web

from acemux.config import Settings
from acemux.engine.pool import EnginePool
from acemux.streaming.registry import ChannelRegistry
from acemux.web.metrics import Metrics
from acemux.web.rates import RateSampler

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("engines", EnginePool)
REGISTRY = web.AppKey("registry", ChannelRegistry)
METRICS = web.AppKey("metrics", Metrics)
RATES = web.AppKey("rates", RateSampler)
