"""One Settings object for the whole program, read from ACEMUX_* variables and flags.

The command line builds it once (flags override the environment) and passes it
to whatever needs it; nothing else reads the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from acemux.profiles.recipes import find_ffmpeg, parse_profiles

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """One configured engine: `http://host:6878`, or `http://host:6878#max=8` to cap its channels."""

    url: str
    max_channels: int | None = None

    @classmethod
    def parse(cls, text: str) -> "EngineSpec":
        url, _, options = text.strip().partition("#")
        url = url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"engine {text!r} must be an http:// or https:// URL")
        max_channels = None
        if options:
            name, _, value = options.partition("=")
            if name != "max" or not value.isdigit() or int(value) < 1:
                raise ValueError(f"engine {text!r}: write the cap as #max=N (N >= 1)")
            max_channels = int(value)
        return cls(url, max_channels)


def parse_pairs(text: str) -> dict[str, str]:
    """`A=1,B=two` -> {"A": "1", "B": "two"}."""
    pairs = {}
    for part in text.split(","):
        if part.strip():
            key, sep, value = part.strip().partition("=")
            if not sep or not key:
                raise ValueError(f"{part.strip()!r} must be KEY=VALUE")
            pairs[key] = value
    return pairs


def parse_size(text: str) -> int:
    """`512m` -> bytes (k, m, g suffixes; empty: 0, no limit)."""
    text = text.strip().lower()
    if not text:
        return 0
    scale = {"k": 1024, "m": MiB, "g": 1024 * MiB}.get(text[-1], 1)
    digits = text[:-1] if text[-1] in "kmg" else text
    if not digits.isdigit() or int(digits) == 0:
        raise ValueError(f"size {text!r} must be a number with an optional k, m or g")
    return int(digits) * scale


def parse_port_range(text: str) -> tuple[int, int]:
    """`19000-19999` (or one port) -> (first, last)."""
    first, _, last = text.strip().partition("-")
    last = last or first
    if not (first.strip().isdigit() and last.strip().isdigit()):
        raise ValueError(f"port range {text!r} must be FIRST-LAST, e.g. 19000-19999")
    low, high = int(first), int(last)
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"port range {text!r} must lie within 1-65535, first <= last")
    return low, high


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ACEMUX_", frozen=True, extra="ignore", populate_by_name=True
    )

    host: str = Field("0.0.0.0", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on.")
    engine: str = Field(
        "http://127.0.0.1:6878",
        # ACEMUX_ENGINES reads better for a list; either name works. Only ACEMUX_*
        # names: an unprefixed ENGINE in the environment must not configure acemux.
        validation_alias=AliasChoices("ACEMUX_ENGINES", "ACEMUX_ENGINE"),
        description=(
            "AceStream engine HTTP API URL; several: comma-separated or the flag repeated; "
            "cap an engine's channels with #max=N (http://host:6878#max=8)."
        ),
    )

    grace_seconds: float = Field(
        5.0, ge=0, description="How long a channel stays open after its last viewer leaves."
    )
    # Channel ring sized in time: memory per channel follows its bitrate (issue 14).
    ring_seconds: float = Field(
        # A joiner needs one GOP (the ring keeps the latest keyframe anyway), a
        # slow viewer some slack; a channel watched over HLS holds its playlist's
        # window (see segments.py). 8 s: 50 channels at 4 Mbit/s in 190 MiB.
        8.0,
        ge=1,
        le=600,
        description="Seconds of recent stream kept per channel for joiners and slow viewers.",
    )
    ring_bytes: int = Field(
        64 * MiB,  # 10 s at 50 Mbit/s
        ge=256 * 1024,
        description="Byte cap on a channel's recent-stream buffer, whatever --ring-seconds says.",
    )
    read_size: int = Field(
        # 128 KiB holds what an engine writes at once at 20 Mbit/s: one chunk, one
        # write per viewer (64 KiB split it in two; 256 KiB gained nothing).
        128 * 1024, ge=4096, description="Largest upstream read, in bytes."
    )
    client_high_water: int = Field(
        512 * 1024,
        ge=16 * 1024,
        description="Bytes queued for a viewer before it is served from the buffer at its own pace.",
    )
    client_stall_seconds: float = Field(
        30.0, gt=0, description="A viewer that takes no data for this long is disconnected."
    )
    max_clients_per_channel: int = Field(
        200, ge=1, description="Viewers allowed on one channel."
    )
    max_channels: int = Field(50, ge=1, description="Channels allowed at once.")

    engine_pool_limit: int = Field(
        10, ge=1, description="Connections to the engine's API (getstream, stat, stop)."
    )
    engine_keepalive: int = Field(
        10, ge=0, description="Idle API connections kept open to the engine."
    )
    engine_api_timeout: float = Field(
        15.0, gt=0, description="Timeout of one engine API call (getstream, stat)."
    )
    engine_connect_timeout: float = Field(
        5.0, gt=0, description="Timeout to open a TCP connection to the engine."
    )
    prebuffer_timeout: float = Field(
        90.0,
        gt=0,
        description="How long the engine may withhold the stream while it prebuffers.",
    )
    stop_timeout: float = Field(3.0, gt=0, description="Timeout of the engine's stop command.")
    stall_seconds: float = Field(
        10.0, gt=0, description="An upstream that sends nothing for this long is reconnected."
    )
    retry_budget_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a channel keeps trying to reconnect before it gives up.",
    )
    reconnect_first_delay: float = Field(
        0.1, ge=0, description="Delay before the first reconnect; doubles on each failure."
    )
    reconnect_max_delay: float = Field(5.0, ge=0, description="Longest delay between reconnects.")
    breaker_failures: int = Field(
        5, ge=1, description="Failures to reach an engine before its requests fail fast."
    )
    breaker_reset_seconds: float = Field(
        10.0, gt=0, description="How long a failing engine rests before a probe request."
    )

    # Engines that are not the fake, and channels that cannot wedge (issue 13).
    upstream_young_seconds: float = Field(
        5.0,
        ge=0,
        description=(
            "An upstream connection that ends with less data than this many seconds (from its "
            "first to its last byte) counts as a failed one: backoff grows and a new engine "
            "session is asked for."
        ),
    )
    start_deadline_margin: float = Field(
        5.0,
        gt=0,
        description=(
            "Seconds past the engine API timeout that a request waits for its channel's "
            "getstream answer before it gets a 504."
        ),
    )

    token: SecretStr = Field(
        SecretStr(""),
        description="Access token for every stream, playlist and API request (empty: none).",
    )
    metrics_open: bool = Field(
        False, description="Serve /metrics, /healthz and /readyz without the token."
    )
    engine_check_interval: float = Field(
        5.0, gt=0, description="Seconds between engine health checks (its version call)."
    )
    engine_check_timeout: float = Field(
        3.0, gt=0, description="Timeout of one engine health check."
    )
    engine_check_fall: int = Field(
        2, ge=1, description="Failed health checks in a row before an engine counts as down."
    )
    engine_check_rise: int = Field(
        1, ge=1, description="Good health checks in a row before a down engine counts as up."
    )
    stat_interval: float = Field(
        5.0, gt=0, description="Seconds between polls of a playing channel's engine statistics."
    )

    hls_segment_seconds: float = Field(
        2.0, ge=0.5, le=30, description="Target duration of an HLS segment (whole GOPs)."
    )
    hls_idle_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "An HLS channel is let go after this long without playlist or segment requests."
        ),
    )
    trust_forwarded_headers: bool = Field(
        False,
        description="Build playlist URLs from X-Forwarded-Proto/Host/Port (behind a proxy).",
    )
    playlists: str = Field(
        "",
        description=(
            "M3U playlists served at /playlist/<name>.m3u: name=file-or-URL pairs, "
            "separated by commas or semicolons."
        ),
    )
    playlist_refresh_seconds: float = Field(
        300.0, gt=0, description="How long a fetched playlist is served before it is fetched again."
    )
    playlist_max_bytes: int = Field(
        5 * MiB, ge=1024, description="Largest playlist source acemux reads, in bytes."
    )

    # -- Engines on demand: providers, autoscaling and healing (engine/provision/) --
    provider: str = Field(
        "",
        description="Start engines on demand: 'process' or 'docker' (empty: static engines only).",
    )
    engine_command: str = Field(
        "",
        description=(
            "Process provider: the engine's command line; docker: the container's command. "
            "{port} is replaced by the engine's port."
        ),
    )
    engine_ports: str = Field(
        "19000-19999", description="Ports for provisioned engines' HTTP API, as FIRST-LAST."
    )
    min_engines: int = Field(1, ge=0, description="Provisioned engines kept running at least.")
    max_engines: int = Field(4, ge=1, description="Provisioned engines running at most.")
    channels_per_engine: int = Field(
        4, ge=1, description="Channels one provisioned engine carries at most."
    )
    spare_engines: int = Field(
        1,
        ge=0,
        description="Engines' worth of free channel capacity kept ready for new channels.",
    )
    engine_idle_seconds: float = Field(
        300.0,
        ge=0,
        description="An idle provisioned engine beyond the minimum is retired after this.",
    )
    engine_start_timeout: float = Field(
        60.0, gt=0, description="How long a new engine may take to answer its first health check."
    )
    engine_unhealthy_seconds: float = Field(
        30.0, gt=0, description="A provisioned engine failing health checks this long is replaced."
    )
    engine_starved_seconds: float = Field(
        60.0,
        gt=0,
        description="A provisioned engine whose every channel is starved this long is replaced.",
    )
    autoscale_interval: float = Field(
        1.0, gt=0, description="Seconds between the autoscaler's looks at the engines."
    )
    # Docker provider only
    engine_image: str = Field("", description="Docker provider: the engine image (not pulled).")
    docker_socket: str = Field(
        "/var/run/docker.sock", description="Docker provider: the Docker Engine API's Unix socket."
    )
    engine_network: str = Field(
        "host",
        description=(
            "Docker provider: 'host', or 'container:NAME' to share another container's "
            "network (a VPN's); engines listen on their own port either way."
        ),
    )
    engine_env: str = Field(
        "",
        description="Docker provider: the engines' environment, KEY=VALUE pairs, comma-separated.",
    )
    engine_port_env: str = Field(
        "",
        description="Docker provider: an environment variable that tells the engine its port.",
    )
    engine_labels: str = Field(
        "", description="Docker provider: extra container labels, KEY=VALUE, comma-separated."
    )
    engine_memory: str = Field(
        "", description="Docker provider: memory limit per engine (e.g. 512m, 2g; empty: none)."
    )
    engine_restart_policy: str = Field(
        "no",
        description="Docker provider: restart policy (no, on-failure, unless-stopped, always).",
    )
    engine_owner: str = Field(
        "acemux",
        description="Docker provider: the label value marking this acemux's containers.",
    )

    # -- named channels: ordered sources, failover, liveness, warm channels (issue 16) --
    channels: str = Field(
        "",
        description=(
            "Named channels: Name=source|source pairs separated by semicolons; a source is a "
            "40-hex content id, infohash:<40 hex>, or an acestream:// or engine link."
        ),
    )
    channel_no_data_seconds: float = Field(
        20.0, gt=0, description="A channel's source that sends nothing this long is failed over."
    )
    channel_zero_peers_seconds: float = Field(
        10.0,
        gt=0,
        description="A source with 0 peers (the engine says) and no data this long is failed over.",
    )
    channel_stall_count: int = Field(
        3, ge=1, description="Stalls of one source within the stall window that fail it over."
    )
    channel_stall_window_seconds: float = Field(
        120.0, gt=0, description="The window in which a source's stalls are counted."
    )
    channel_backoff_seconds: float = Field(
        60.0, gt=0, description="A failed source is not tried again for this long (doubling)."
    )
    channel_backoff_max_seconds: float = Field(
        900.0, gt=0, description="Longest back-off of a source that keeps failing."
    )
    channel_live_seconds: float = Field(
        1800.0,
        gt=0,
        description="A channel counts as live (?only=live) this long after a source last worked.",
    )
    warm_channels: str = Field(
        "", description="Channel slugs kept tuned without viewers, comma-separated."
    )
    warm_channels_max: int = Field(4, ge=0, description="At most this many warm channels.")
    warm_channels_retune_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "How often a warm channel on a backup source, with no viewers, is checked for a "
            "return to its preferred source."
        ),
    )

    # -- CORS: pages on other origins (hls.js, web players) reading what acemux serves
    cors_origins: str = Field(
        "*",
        description=(
            "Origins whose web pages may read streams, playlists and the read-only API "
            "(CORS): * for any, or comma-separated origins like https://app.example; "
            "empty: no CORS headers."
        ),
    )
    # Tuner, guide and users (issue 17): HDHomeRun emulation, SSDP, XMLTV, per-user access.
    public_url: str = Field(
        "",
        description=(
            "acemux's address as media servers and players reach it (http://192.168.1.5:8080); "
            "tuner, playlist and guide links use it instead of the request's Host header."
        ),
    )
    tuner_name: str = Field("acemux", description="The HDHomeRun tuners' FriendlyName.")
    ssdp: bool = Field(
        False, description="Answer SSDP M-SEARCH on UDP 1900 so media servers find the tuners."
    )
    ssdp_port: int = Field(1900, ge=0, le=65535, description="UDP port of SSDP discovery.")
    guides: str = Field(
        "",
        description=(
            "XMLTV guides besides those the playlists name (url-tvg): name=file-or-URL pairs, "
            "separated by commas or semicolons."
        ),
    )
    guide_refresh_seconds: float = Field(
        3600.0, gt=0, description="How long a fetched guide is served before it is fetched again."
    )
    guide_max_bytes: int = Field(
        100 * MiB, ge=1024, description="Largest guide acemux reads (after gunzip), in bytes."
    )
    users_file: str = Field(
        "",
        description="TOML file of users (tokens hashed, limits, playlists); reloaded on SIGHUP.",
    )

    # -- ffmpeg profiles (acemux/profiles): ?profile=aac on stream, HLS and playlist URLs --
    ffmpeg: str = Field(
        "ffmpeg", description="The ffmpeg that runs profiles: a name on PATH or a path."
    )
    profiles: str = Field(
        "",
        description=(
            'Your own ffmpeg profiles as JSON, name to output options: {"tv": ["-c:v", '
            '"libx264", "-c:a", "aac"]} (built in: copy, aac, h264).'
        ),
    )

    log_level: str = Field("INFO", description="Logging level.")
    log_format: str = Field("text", description="Log format: text or json.")

    @field_validator("engine")
    @classmethod
    def _engines_are_http_urls(cls, value: str) -> str:
        specs = [EngineSpec.parse(part) for part in value.split(",") if part.strip()]
        if not specs:
            raise ValueError("at least one engine is needed")
        if len({spec.url for spec in specs}) != len(specs):
            raise ValueError("an engine is listed twice")
        return ",".join(
            spec.url + (f"#max={spec.max_channels}" if spec.max_channels else "") for spec in specs
        )

    @property
    def engines(self) -> list[EngineSpec]:
        """The static engines; with a provider only those given explicitly."""
        if self.provider and "engine" not in self.model_fields_set:
            return []
        return [EngineSpec.parse(part) for part in self.engine.split(",")]

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in ("", "process", "docker"):
            raise ValueError("provider must be 'process', 'docker' or empty")
        return value

    @field_validator("engine_network")
    @classmethod
    def _engine_network(cls, value: str) -> str:
        if value != "host" and not (value.startswith("container:") and len(value) > 10):
            raise ValueError("engine_network must be 'host' or 'container:NAME'")
        return value

    @field_validator("engine_restart_policy")
    @classmethod
    def _restart_policy(cls, value: str) -> str:
        if value not in ("no", "on-failure", "unless-stopped", "always"):
            raise ValueError(
                "engine_restart_policy must be no, on-failure, unless-stopped or always"
            )
        return value

    @field_validator("engine_memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        parse_size(value)
        return value.strip()

    @field_validator("engine_env", "engine_labels")
    @classmethod
    def _pairs(cls, value: str) -> str:
        parse_pairs(value)
        return value.strip()

    @field_validator("engine_ports")
    @classmethod
    def _port_range(cls, value: str) -> str:
        first, last = parse_port_range(value)
        return f"{first}-{last}"

    @model_validator(mode="after")
    def _provider_is_complete(self) -> "Settings":
        if self.provider == "process" and not self.engine_command.strip():
            raise ValueError("the process provider needs --engine-command (with {port})")
        if self.provider == "docker" and not self.engine_image.strip():
            raise ValueError("the docker provider needs --engine-image")
        if self.provider and self.min_engines == 0 and self.spare_engines == 0:
            raise ValueError("with min_engines 0 and spare_engines 0 no engine would ever start")
        if self.min_engines > self.max_engines:
            raise ValueError("min_engines must not exceed max_engines")
        return self

    @field_validator("channels")
    @classmethod
    def _channels_are_name_sources_pairs(cls, value: str) -> str:
        from acemux.channels.catalogue import parse_configured  # it needs Settings itself

        parse_configured(value)
        return value.strip()

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("log_format must be 'text' or 'json'")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_star_or_scheme_host(cls, value: str) -> str:
        origins = []
        for part in value.split(","):
            origin = part.strip().rstrip("/").lower()
            if origin and origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"CORS origin {part.strip()!r} must be * or scheme://host[:port]")
            if origin and origin not in origins:
                origins.append(origin)
        return ",".join(origins)

    @property
    def cors_origin_list(self) -> list[str]:
        return self.cors_origins.split(",") if self.cors_origins else []

    @field_validator("playlists")
    @classmethod
    def _playlists_are_name_source_pairs(cls, value: str) -> str:
        PlaylistSpec.parse_all(value)
        return value.strip()

    @model_validator(mode="after")
    def _profiles_can_run(self) -> "Settings":
        # Configured profiles are a promise to run ffmpeg: fail at start, not at play.
        if parse_profiles(self.profiles) and find_ffmpeg(self.ffmpeg) is None:
            raise ValueError(f"profiles are configured but ffmpeg {self.ffmpeg!r} is not found")
        return self

    @property
    def warm_channel_slugs(self) -> list[str]:
        slugs = [s.strip().lower() for s in self.warm_channels.split(",") if s.strip()]
        return list(dict.fromkeys(slugs))

    @property
    def playlist_specs(self) -> list["PlaylistSpec"]:
        return PlaylistSpec.parse_all(self.playlists)

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("public_url must be an http:// or https:// URL")
        return value

    @field_validator("guides")
    @classmethod
    def _guides_are_name_source_pairs(cls, value: str) -> str:
        PlaylistSpec.parse_all(value)
        return value.strip()

    @property
    def guide_specs(self) -> list["PlaylistSpec"]:
        return PlaylistSpec.parse_all(self.guides)


# An origin as browsers send it: scheme://host[:port], nothing after.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+")
_PLAYLIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A comma or semicolon starts the next pair only before "name=": URLs keep theirs.
_PLAYLIST_SEPARATOR = re.compile(r"[,;]\s*(?=[A-Za-z0-9][A-Za-z0-9_.-]*=)")


@dataclass(frozen=True, slots=True)
class PlaylistSpec:
    """One configured playlist source: `name=/path/list.m3u` or `name=https://host/list.m3u`."""

    name: str
    source: str

    @property
    def remote(self) -> bool:
        return self.source.lower().startswith(("http://", "https://"))

    @classmethod
    def parse_all(cls, text: str) -> list["PlaylistSpec"]:
        specs = []
        for part in _PLAYLIST_SEPARATOR.split(text.strip()):
            if not part.strip():
                continue
            name, sep, source = (p.strip() for p in part.partition("="))
            if not sep or not _PLAYLIST_NAME.fullmatch(name) or not source:
                raise ValueError(f"playlist {part.strip()!r} must be name=file-or-URL")
            specs.append(cls(name, source))
        if len({spec.name for spec in specs}) != len(specs):
            raise ValueError("a playlist name is used twice")
        return specs
