"""The aiohttp application and its lifecycle: start, serve, shut down in a fixed order."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import AsyncIterator

from aiohttp import web

from acemux import __version__
from acemux.config import Settings
from acemux.engine.pool import EnginePool
from acemux.engine.provision import make_provider
from acemux.engine.provision.autoscale import Autoscaler
from acemux.streaming.registry import ChannelRegistry
from acemux.tuner.ssdp import start_ssdp
from acemux.users import Users
from acemux.web import (
    ace,
    api,
    channels,
    cors,
    dashboard,
    guide,
    hls,
    monitoring,
    playlists,
    tuner,
)
from acemux.web.auth import token_middlewares
from acemux.web.errors import json_errors
from acemux.web.keys import AUTOSCALER, METRICS, POOL, RATES, REGISTRY, SETTINGS, USERS
from acemux.web.metrics import Metrics
from acemux.web.rates import RateSampler

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 3.0
MAX_REQUEST_LINE = 16 * 1024


def create_app(settings: Settings) -> web.Application:
    users = Users(settings)
    # CORS preflights first: browsers send them without the token.
    middlewares = [*cors.middlewares(settings), json_errors, *token_middlewares(settings, users)]
    app = web.Application(middlewares=middlewares)
    app[SETTINGS] = settings
    app[USERS] = users
    app[POOL] = pool = EnginePool(settings)
    app[METRICS] = metrics = Metrics()
    app[REGISTRY] = ChannelRegistry(settings, pool, events=metrics)
    app[RATES] = RateSampler(app[REGISTRY])
    provider = make_provider(settings)
    if provider is not None:
        app[AUTOSCALER] = Autoscaler(settings, pool, app[REGISTRY], provider)
    metrics.observe(app[REGISTRY], pool, app.get(AUTOSCALER))
    app.add_routes(ace.routes)
    app.add_routes(api.routes)
    app.add_routes(monitoring.routes)
    dashboard.add_routes(app)
    hls.setup(app)
    playlists.setup(app)
    tuner.setup(app)
    guide.setup(app)
    channels.setup(app)
    cors.setup(app)
    app.router.add_get("/healthz", _healthz)
    app.cleanup_ctx.append(_engine_clients)
    app.cleanup_ctx.append(_observers)
    app.cleanup_ctx.append(_provisioning)
    if settings.users_file:
        app.cleanup_ctx.append(_reload_users_on_sighup)
    app.on_shutdown.append(_close_channels)
    return app


async def _engine_clients(app: web.Application) -> AsyncIterator[None]:
    await app[POOL].open()
    yield
    await app[POOL].close()


async def _observers(app: web.Application) -> AsyncIterator[None]:
    """Background watchers: the engine health checks and the bitrate sampler."""
    app[POOL].start_health_checks()
    app[RATES].start()
    yield
    await app[RATES].stop()
    await app[POOL].stop_health_checks()


async def _provisioning(app: web.Application) -> AsyncIterator[None]:
    """Engines on demand (with --provider): adopt, scale and heal; at exit end what must end."""
    scaler = app.get(AUTOSCALER)
    if scaler is not None:
        await scaler.start()
    yield
    if scaler is not None:
        await scaler.stop()


async def _reload_users_on_sighup(app: web.Application) -> AsyncIterator[None]:
    """`kill -HUP` makes acemux read its users file again (a broken file changes nothing)."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, app[USERS].reload)
    yield
    loop.remove_signal_handler(signal.SIGHUP)


async def _close_channels(app: web.Application) -> None:
    """First step of shutdown: end every viewer and stop every engine session."""
    await app[REGISTRY].close_all()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


class AcemuxServer:
    """Runs the app on a TCP port; `async with` it, or start() and stop()."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self._runner = web.AppRunner(
            self.app,
            handler_cancellation=True,  # a viewer that hangs up is noticed at once
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            max_line_size=MAX_REQUEST_LINE,
            access_log=None,
        )
        self.port = settings.port
        self._ssdp: asyncio.DatagramTransport | None = None

    @property
    def url(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the real port when 0 was asked for
        if self.settings.ssdp:
            try:
                self._ssdp = await start_ssdp(self.settings, self.port)
            except OSError:
                await self._runner.cleanup()  # no half-started server is left behind
                raise
        s = self.settings
        engines = ",".join(spec.url for spec in s.engines) or "none"
        provider = f", {s.provider} provider" if s.provider else ""
        log.info(
            "acemux %s listening on %s, engines %s%s", __version__, self.url, engines, provider
        )

    @property
    def ssdp_port(self) -> int | None:
        """The UDP port SSDP answers on (the real one when 0 was asked for)."""
        return self._ssdp.get_extra_info("sockname")[1] if self._ssdp is not None else None

    async def stop(self) -> None:
        if self._ssdp is not None:
            self._ssdp.close()
        await self._runner.cleanup()

    async def __aenter__(self) -> "AcemuxServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
