"""Prometheus metrics: event counters fed by the streaming path, gauges read at scrape time.

Each app owns its own CollectorRegistry (never the process-global one), so
several apps in one process (tests, `acemux check`) keep separate figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from acemux.profiles.upstream import ProfileUpstream
from acemux.streaming.events import UPSTREAM_CAUSES, VIEWER_STALLED, ChannelEvents

if TYPE_CHECKING:
    from acemux.engine.pool import EnginePool
    from acemux.engine.provision.autoscale import Autoscaler
    from acemux.streaming.registry import ChannelRegistry
    from acemux.streaming.session import ChannelSession
    from acemux.streaming.viewer import Viewer

FIRST_BYTE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90)


class Metrics(ChannelEvents):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.channels_opened = Counter("acemux_channels_opened", "Channels opened.", registry=r)
        self.channels_closed = Counter("acemux_channels_closed", "Channels closed.", registry=r)
        self.upstream_errors = Counter(
            "acemux_upstream_errors",
            "Upstream connections that ended or failed, by cause.",
            ["cause"],
            registry=r,
        )
        for cause in UPSTREAM_CAUSES:
            self.upstream_errors.labels(cause)  # every cause shows, at 0 until it happens
        self.reconnects = Counter(
            "acemux_reconnects", "Upstream reconnects of running channels.", registry=r
        )
        self.channel_failures = Counter(
            "acemux_channel_failures",
            "Channels ended because one of their tasks raised, by task and exception type.",
            ["task", "error"],
            registry=r,
        )
        self.clients_joined = Counter("acemux_clients_joined", "Clients that joined.", registry=r)
        self.clients_left = Counter("acemux_clients_left", "Clients that left.", registry=r)
        self.clients_skipped = Counter(
            "acemux_clients_skipped",
            "Times a lagging client fell out of the buffer and was moved to the live edge.",
            registry=r,
        )
        self.clients_dropped_for_lag = Counter(
            "acemux_clients_dropped_for_lag",
            "Clients disconnected because they took no data for too long.",
            registry=r,
        )
        self.time_to_first_byte = Histogram(
            "acemux_time_to_first_byte_seconds",
            "Time from opening a channel to the engine's first stream byte.",
            buckets=FIRST_BYTE_BUCKETS,
            registry=r,
        )
        # Channels opened and not yet closed, including those still closing, so
        # the byte totals below never step back while a channel shuts down.
        self._open: set[ChannelSession] = set()
        self._closed_bytes_in = 0
        self._closed_bytes_out = 0

    def observe(
        self, channels: ChannelRegistry, engines: EnginePool, scaler: Autoscaler | None = None
    ) -> None:
        """Add the scrape-time gauges, read from the channel registry and the engines."""
        self.registry.register(_LiveCollector(self, channels, engines))
        if scaler is not None:
            self.registry.register(_ProvisionCollector(engines, scaler))

    def byte_totals(self) -> tuple[int, int]:
        """Bytes read from the engine and sent to clients since start, all channels."""
        return (
            self._closed_bytes_in + sum(s.bytes_in for s in self._open),
            self._closed_bytes_out + sum(s.bytes_out for s in self._open),
        )

    # -- ChannelEvents -------------------------------------------------------------

    def channel_opened(self, session: ChannelSession) -> None:
        self.channels_opened.inc()
        self._open.add(session)

    def channel_closed(self, session: ChannelSession, reason: str) -> None:
        self.channels_closed.inc()
        if session in self._open:
            self._open.discard(session)
            self._closed_bytes_in += session.bytes_in
            self._closed_bytes_out += session.bytes_out

    def first_byte(self, session: ChannelSession, seconds: float) -> None:
        self.time_to_first_byte.observe(seconds)

    def upstream_error(self, session: ChannelSession, cause: str) -> None:
        self.upstream_errors.labels(cause).inc()

    def reconnect(self, session: ChannelSession) -> None:
        self.reconnects.inc()

    def channel_failed(self, session: ChannelSession, task: str, error: BaseException) -> None:
        self.channel_failures.labels(task, type(error).__name__).inc()

    def viewer_joined(self, session: ChannelSession, viewer: Viewer) -> None:
        self.clients_joined.inc()

    def viewer_left(self, session: ChannelSession, viewer: Viewer, reason: str) -> None:
        self.clients_left.inc()
        if reason == VIEWER_STALLED:
            self.clients_dropped_for_lag.inc()

    def viewer_skipped(self, session: ChannelSession, viewer: Viewer) -> None:
        self.clients_skipped.inc()


class _LiveCollector(Collector):
    """Figures that are state, not events: read from the live objects at each scrape."""

    def __init__(self, metrics: Metrics, channels: ChannelRegistry, engines: EnginePool) -> None:
        self._metrics = metrics
        self._channels = channels
        self._engines = engines

    def collect(self) -> Iterator[Metric]:
        sessions = self._channels.sessions()
        yield GaugeMetricFamily("acemux_channels", "Channels open.", value=len(sessions))
        yield GaugeMetricFamily(
            "acemux_clients", "Clients connected.", value=sum(len(s.viewers) for s in sessions)
        )
        bytes_in, bytes_out = self._metrics.byte_totals()
        yield CounterMetricFamily(
            "acemux_bytes_in", "Bytes read from the engine, all channels.", value=bytes_in
        )
        yield CounterMetricFamily(
            "acemux_bytes_out", "Bytes sent to clients, all channels.", value=bytes_out
        )

        clients = GaugeMetricFamily(
            "acemux_channel_clients", "Clients of a channel.", labels=["channel"]
        )
        ch_in = CounterMetricFamily(
            "acemux_channel_bytes_in",
            "Bytes read from the engine for a channel.",
            labels=["channel"],
        )
        ch_out = CounterMetricFamily(
            "acemux_channel_bytes_out", "Bytes sent to a channel's clients.", labels=["channel"]
        )
        for session in sessions:
            name = [session.key.name]
            clients.add_metric(name, len(session.viewers))
            ch_in.add_metric(name, session.bytes_in)
            ch_out.add_metric(name, session.bytes_out)
        yield from (clients, ch_in, ch_out)
        yield from _profile_metrics(sessions)

        up = GaugeMetricFamily(
            "acemux_engine_up", "1 while the engine passes its health checks.", labels=["engine"]
        )
        channels = GaugeMetricFamily(
            "acemux_engine_channels", "Channels an engine carries.", labels=["engine"]
        )
        checked = GaugeMetricFamily(
            "acemux_engine_last_check_timestamp_seconds",
            "When the engine was last checked (Unix time).",
            labels=["engine"],
        )
        for member in self._engines.members:
            up.add_metric([member.url], 1 if member.health.up else 0)
            channels.add_metric([member.url], member.channels)
            if member.health.last_check_at is not None:
                checked.add_metric([member.url], member.health.last_check_at)
        yield from (up, channels, checked)


class _ProvisionCollector(Collector):
    """Provisioned engines (state, age, restarts) and the autoscaler's decisions."""

    def __init__(self, engines: EnginePool, scaler: Autoscaler) -> None:
        self._engines = engines
        self._scaler = scaler

    def collect(self) -> Iterator[Metric]:
        labels = ["engine", "provider", "id", "state"]
        info = GaugeMetricFamily(
            "acemux_engine_provisioned", "1 per provisioned engine, in its state.", labels=labels
        )
        age = GaugeMetricFamily(
            "acemux_engine_age_seconds", "Age of a provisioned engine.", labels=["engine"]
        )
        restarts = GaugeMetricFamily(
            "acemux_engine_restarts", "Engines replaced before this one.", labels=["engine"]
        )
        for member in self._engines.members:
            if member.provisioned is None:
                continue
            d = member.provisioned.describe()
            info.add_metric([member.url, d["provider"], d["id"], d["state"]], 1)
            age.add_metric([member.url], d["age_seconds"])
            restarts.add_metric([member.url], d["restarts"])
        decisions = CounterMetricFamily(
            "acemux_engine_decisions",
            "Autoscaler decisions: started, retired, replaced, start_failed.",
            labels=["decision"],
        )
        for name in ("started", "retired", "replaced", "start_failed"):
            decisions.add_metric([name], self._scaler.decisions[name])
        yield from (info, age, restarts, decisions)
def _profile_metrics(sessions: list[ChannelSession]) -> Iterator[Metric]:
    """Each profile process (acemux/profiles): its CPU, restarts and viewers."""
    labels = ["channel", "profile"]
    cpu = CounterMetricFamily(
        "acemux_profile_cpu_seconds", "CPU used by a profile's ffmpeg processes.", labels=labels
    )
    restarts = CounterMetricFamily(
        "acemux_profile_restarts", "Times a profile's ffmpeg was started again.", labels=labels
    )
    viewers = GaugeMetricFamily(
        "acemux_profile_viewers", "TS viewers of a profile (HLS ones: /api/v1/hls).", labels=labels
    )
    for session in sessions:
        upstream = session.upstream
        if not isinstance(upstream, ProfileUpstream):
            continue
        names = [session.key.raw.name, session.key.profile]
        cpu.add_metric(names, upstream.cpu_seconds())
        restarts.add_metric(names, upstream.restarts)
        viewers.add_metric(names, len(session.viewers))
    yield from (cpu, restarts, viewers)
