"""Typed keys for what the aiohttp application carries."""

from aiohttp import web

from acemux.config import Settings
from acemux.engine.api import EngineClient
from acemux.engine.health import EngineHealth
from acemux.streaming.registry import ChannelRegistry
from acemux.web.metrics import Metrics
from acemux.web.rates import RateSampler

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", EngineClient)
REGISTRY = web.AppKey("registry", ChannelRegistry)
METRICS = web.AppKey("metrics", Metrics)
HEALTH = web.AppKey("engine_health", EngineHealth)
RATES = web.AppKey("rates", RateSampler)
