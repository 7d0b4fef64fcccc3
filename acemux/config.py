"""One Settings object for the whole program, read from ACEMUX_* variables and flags.

The command line builds it once (flags override the environment) and passes it
to whatever needs it; nothing else reads the environment.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACEMUX_", frozen=True, extra="ignore")

    host: str = Field("0.0.0.0", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on.")
    engine: str = Field(
        "http://127.0.0.1:6878", description="Base URL of the AceStream engine's HTTP API."
    )

    grace_seconds: float = Field(
        5.0, ge=0, description="How long a channel stays open after its last viewer leaves."
    )
    ring_bytes: int = Field(
        16 * MiB,
        ge=256 * 1024,
        description="Recent stream data kept per channel for joiners and slow viewers.",
    )
    read_size: int = Field(
        64 * 1024, ge=4096, description="Largest upstream read, in bytes."
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

    log_level: str = Field("INFO", description="Logging level.")
    log_format: str = Field("text", description="Log format: text or json.")

    @field_validator("engine")
    @classmethod
    def _engine_is_http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("engine must be an http:// or https:// URL")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("log_format must be 'text' or 'json'")
        return value
