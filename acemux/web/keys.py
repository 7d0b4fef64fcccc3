"""Typed keys for what the aiohttp application carries."""

from aiohttp import web

from acemux.channels.catalogue import ChannelCatalogue
from acemux.channels.warm import WarmChannels
from acemux.config import Settings
from acemux.engine.pool import EnginePool
from acemux.engine.provision.autoscale import Autoscaler
from acemux.guide.sources import GuideSources
from acemux.playlists.recent import RecentChannels
from acemux.playlists.sources import PlaylistSources
from acemux.streaming.hls import HlsChannels
from acemux.streaming.registry import ChannelRegistry
from acemux.tuner.directory import ChannelDirectory
from acemux.users import Users
from acemux.web.metrics import Metrics
from acemux.web.rates import RateSampler

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("engines", EnginePool)
REGISTRY = web.AppKey("registry", ChannelRegistry)
METRICS = web.AppKey("metrics", Metrics)
RATES = web.AppKey("rates", RateSampler)
HLS = web.AppKey("hls", HlsChannels)
PLAYLISTS = web.AppKey("playlists", PlaylistSources)
RECENT = web.AppKey("recent_channels", RecentChannels)
CATALOGUE = web.AppKey("channel_catalogue", ChannelCatalogue)
WARM = web.AppKey("warm_channels", WarmChannels)
USERS = web.AppKey("users", Users)
DIRECTORY = web.AppKey("channel_directory", ChannelDirectory)
GUIDES = web.AppKey("guides", GuideSources)
AUTOSCALER = web.AppKey("autoscaler", Autoscaler)  # only with a provider
