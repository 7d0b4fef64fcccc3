"""A typed client for one AceStream engine's HTTP API: getstream, playback, stop, version.

Every request carries `Accept-Encoding: identity` (the stream must reach acemux
byte for byte) and has an explicit timeout. API calls share a small bounded
pool; playback connections are long-lived, so they get a pool of their own and
cannot starve getstream/stop calls.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import uuid
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from acemux.config import Settings
from acemux.engine.breaker import CircuitBreaker
from acemux.engine.stream_reader import StreamConnection, open_stream
from acemux.errors import EngineError, EngineTimeout, EngineUnavailable

log = logging.getLogger(__name__)

IDENTITY_HEADERS = {"Accept-Encoding": "identity"}
# API answers are a few hundred bytes; anything past this is not read.
API_ANSWER_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the engine returned for one playback session, URLs pointed at the engine."""

    playback_url: str
    stat_url: str
    command_url: str
    infohash: str
    playback_session_id: str


@dataclass(frozen=True, slots=True)
class EngineVersion:
    """What a version call learnt: the engine answered; its version and platform if it said."""

    status: int
    version: str | None = None
    platform: str | None = None

    @classmethod
    def parse(cls, status: int, raw: bytes) -> "EngineVersion":
        """Both known shapes: `{"result": {"version", "platform"}}`, and 3.1.0-rc2's (no platform)."""
        try:
            result = json.loads(raw).get("result")
        except (ValueError, AttributeError):  # not JSON (not UTF-8 included), not an object
            return cls(status)
        if not isinstance(result, dict):
            return cls(status)
        version, platform = result.get("version"), result.get("platform")
        return cls(
            status,
            version if isinstance(version, str) and version else None,
            platform if isinstance(platform, str) and platform else None,
        )


class EngineClient:
    def __init__(self, settings: Settings, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._settings = settings
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)
        self._api: aiohttp.ClientSession | None = None
        self._streams: aiohttp.ClientSession | None = None
        # The engine's streams read by the lean reader, and their read counts
        # at the last look (see streamed_since_last_look).
        self._stream_connections: weakref.WeakSet[StreamConnection] = weakref.WeakSet()
        self._reads_seen: dict[int, int] = {}

    def streamed_since_last_look(self) -> bool:
        """Did any of this engine's streams deliver data since the last call?"""
        seen, moved = {}, False
        for conn in self._stream_connections:
            if conn.open:
                seen[id(conn)] = conn.reads
                moved = moved or conn.reads > self._reads_seen.get(id(conn), 0)
        self._reads_seen = seen
        return moved

    async def open(self) -> None:
        s = self._settings
        self._api = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=s.engine_pool_limit,
                limit_per_host=s.engine_pool_limit,
                keepalive_timeout=30.0 if s.engine_keepalive else None,
                force_close=s.engine_keepalive == 0,
            ),
            headers=IDENTITY_HEADERS,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=s.engine_api_timeout, sock_connect=s.engine_connect_timeout
            ),
        )
        # One long-lived connection per channel; bounded by the channel limit.
        self._streams = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=s.max_channels, limit_per_host=s.max_channels, force_close=True
            ),
            headers=IDENTITY_HEADERS,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.engine_connect_timeout, sock_read=None
            ),
        )

    async def close(self) -> None:
        for session in (self._api, self._streams):
            if session is not None:
                await session.close()
        self._api = self._streams = None

    # -- API calls -------------------------------------------------------------

    async def start_stream(
        self, selector: dict[str, str], extra: dict[str, str], fail_fast: bool = True
    ) -> StreamInfo:
        """Ask the engine for a new playback session (a fresh pid, so it is ours alone).

        A reconnecting channel passes fail_fast=False: its attempts, already paced
        by backoff, go through an open breaker and serve as its probes.
        """
        params = {**extra, **selector, "format": "json", "pid": uuid.uuid4().hex}
        body = await self._get_json("/ace/getstream", params, fail_fast=fail_fast)
        if body.get("error") or not isinstance(body.get("response"), dict):
            raise EngineError(f"engine error: {body.get('error') or 'empty response'}")
        resp = body["response"]
        try:
            return StreamInfo(
                playback_url=self.rebase(resp["playback_url"]),
                stat_url=self.rebase(resp["stat_url"]),
                command_url=self.rebase(resp["command_url"]),
                infohash=str(resp.get("infohash") or ""),
                playback_session_id=str(resp.get("playback_session_id") or ""),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise EngineError(f"engine returned an unusable getstream answer: {err}") from err

    async def stop(self, command_url: str) -> bool:
        """Tell the engine to stop a session. Never raises: the session may be gone already."""
        try:
            body = await self._get_json(
                command_url,
                {"method": "stop"},
                timeout=self._settings.stop_timeout,
                fail_fast=False,  # a stop is owed to the engine even while it is failing
            )
        except (EngineUnavailable, EngineError, EngineTimeout) as err:
            log.info("stop at %s failed: %s", command_url, err)
            return False
        if body.get("error"):
            log.info("engine refused stop: %s", body.get("error"))
            return False
        return True

    async def stat(self, stat_url: str) -> dict:
        """The engine's statistics of a playback session, in one spelling."""
        body = await self._get_json(stat_url, {})
        resp = body.get("response")
        if body.get("error") or not isinstance(resp, dict):
            raise EngineError(f"engine error: {body.get('error') or 'no statistics'}")
        return {
            "status": resp.get("status"),
            "peers": resp.get("peers"),
            "speed_down": resp.get("speed_down", resp.get("speedDown")),  # KB/s
            "speed_up": resp.get("speed_up", resp.get("speedUp")),
            "downloaded": resp.get("downloaded"),
            "uploaded": resp.get("uploaded"),
        }

    async def version(self) -> EngineVersion:
        """The engine's version, as far as it tells; raises only when it gives no HTTP answer.

        Any HTTP answer means the engine is alive: 3.0 engines have no HTTP API,
        and a proxy in front of an engine may not forward this path.
        """
        # Health checks are paced already; they also serve as the breaker's probes.
        status, raw = await self._get(
            "/webui/api/service", {"method": "get_version"}, fail_fast=False
        )
        return EngineVersion.parse(status, raw)

    async def open_playback(
        self, playback_url: str
    ) -> StreamConnection | aiohttp.ClientResponse:
        """Open the stream; the engine may withhold headers while it prebuffers.

        Only channels with an engine session get here, so the breaker is not
        asked, only told how it went.
        """
        assert self._streams is not None, "EngineClient.open() was not called"
        s = self._settings
        resp: StreamConnection | aiohttp.ClientResponse
        try:
            async with asyncio.timeout(s.prebuffer_timeout):
                if playback_url.startswith("http://"):  # the lean reader: stream_reader.py
                    resp = await open_stream(
                        playback_url, IDENTITY_HEADERS, s.engine_connect_timeout, s.read_size
                    )
                    self._stream_connections.add(resp)
                else:
                    resp = await self._streams.get(playback_url)
        except TimeoutError as err:
            raise EngineTimeout("engine sent no stream before the prebuffer timeout") from err
        except (aiohttp.ClientError, OSError) as err:
            self.breaker.failure()
            raise EngineUnavailable(f"engine unreachable: {err}") from err
        self.breaker.success()
        if resp.status != 200:
            resp.release()
            raise EngineError(f"engine answered HTTP {resp.status} for the stream")
        return resp

    # -- helpers ---------------------------------------------------------------

    def rebase(self, url: str) -> str:
        """Point an engine-returned URL at this engine's configured address.

        Engines in containers report hosts only valid inside them (127.0.0.1, a
        private address, the container's name); those are rewritten to the
        engine's own address. A URL on any other host is refused: acemux only
        ever connects to the engines it was configured with.
        """
        parts = urlsplit(url)
        if not parts.path.startswith("/"):
            raise ValueError(f"not an absolute URL: {url!r}")
        base = urlsplit(self.base_url)
        host = parts.hostname or ""
        if host and host != base.hostname and not _internal_host(host):
            raise ValueError(f"engine pointed elsewhere ({host}), not following it")
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    async def _get_json(
        self,
        path_or_url: str,
        params: dict[str, str],
        timeout: float | None = None,
        fail_fast: bool = True,
    ) -> dict:
        status, raw = await self._get(path_or_url, params, timeout, fail_fast)
        try:
            # From bytes: an answer that is not UTF-8 is refused like any non-JSON one.
            body = json.loads(raw)
        except ValueError as err:
            message = f"engine answered HTTP {status} with a body that is not JSON"
            raise EngineError(message) from err
        if not isinstance(body, dict):
            raise EngineError("engine answered with unexpected JSON")
        return body

    async def _get(
        self,
        path_or_url: str,
        params: dict[str, str],
        timeout: float | None = None,
        fail_fast: bool = True,
    ) -> tuple[int, bytes]:
        """One API request: (HTTP status, body). Any answer counts as the engine reached."""
        assert self._api is not None, "EngineClient.open() was not called"
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        timeout = timeout or self._settings.engine_api_timeout
        client_timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=self._settings.engine_connect_timeout
        )
        if fail_fast:
            self.breaker.check()
        try:
            async with self._api.get(url, params=params, timeout=client_timeout) as resp:
                raw = await _read_capped(resp.content)
        except TimeoutError as err:
            self.breaker.failure()
            raise EngineTimeout(f"engine did not answer within {timeout:g} s") from err
        except aiohttp.ClientError as err:
            self.breaker.failure()
            raise EngineUnavailable(f"engine unreachable: {err}") from err
        self.breaker.success()
        return resp.status, raw


async def _read_capped(content: aiohttp.StreamReader) -> bytes:
    """The body up to API_ANSWER_MAX_BYTES (a longer one is cut and fails to parse)."""
    parts, size = [], 0
    while size < API_ANSWER_MAX_BYTES:
        part = await content.read(API_ANSWER_MAX_BYTES - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _internal_host(host: str) -> bool:
    """A host only meaningful inside the engine's own machine or network."""
    if host == "localhost" or "." not in host and ":" not in host:
        return True  # a bare name: the container's own, or localhost
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified
