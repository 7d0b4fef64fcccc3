"""Typed keys for what the aiohttp application carries."""

from aiohttp import web

from acemux.config import Settings
from acemux.engine.api import EngineClient
from acemux.streaming.registry import ChannelRegistry

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", EngineClient)
REGISTRY = web.AppKey("registry", ChannelRegistry)
