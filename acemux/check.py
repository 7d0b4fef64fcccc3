"""`acemux check`: the playback checks a person would do by hand against a real engine.

It talks to the engine directly for the first checks, then runs an acemux on a
free local port in front of it and watches real clients through it. Each check
passes, fails or is skipped when an earlier one it needs has failed; the exit
status is non-zero when any check failed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, TypeVar

import aiohttp
from pydantic import SecretStr

from acemux.config import Settings
from acemux.engine.api import IDENTITY_HEADERS, EngineClient, StreamInfo
from acemux.errors import AcemuxError
from acemux.streaming.ts import NULL_PID, PACKET_SIZE, SYNC_BYTE
from acemux.tasks import cancel_and_wait
from acemux.web.app import AcemuxServer
from acemux.web.keys import REGISTRY

T = TypeVar("T")
PROBE_BYTES = 64 * 1024  # read straight from the engine to see what it sends
SHARED_BYTES = 256 * 1024  # the second client must get this much real data
AFTER_RECONNECT_BYTES = 256 * 1024  # and the first this much after the reconnect
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Result:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str


class CheckFailed(Exception):
    """One check failed; the message says what was seen."""


class TsClient:
    """A viewer of acemux that reads in the background and checks every TS packet."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.bytes = 0
        self.media_bytes = 0  # all but null packets: what the engine actually sent
        self.packets = 0
        self.sync_errors = 0
        self.ended = ""
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(http, url), name="check-client")

    async def _read(self, http: aiohttp.ClientSession, url: str) -> None:
        try:
            async with http.get(url) as resp:
                if resp.status != 200:
                    self.ended = f"HTTP {resp.status}: {(await resp.text())[:200]}"
                    return
                pending = b""
                async for data in resp.content.iter_any():
                    pending = self._count(pending + data)
            self.ended = "stream ended"
        except (aiohttp.ClientError, OSError) as err:
            self.ended = f"connection failed: {err!r}"
        finally:
            self._notify()

    def _count(self, data: bytes) -> bytes:
        whole = len(data) - len(data) % PACKET_SIZE
        for i in range(0, whole, PACKET_SIZE):
            self.packets += 1
            if data[i] != SYNC_BYTE:
                self.sync_errors += 1
            elif ((data[i + 1] & 0x1F) << 8 | data[i + 2]) != NULL_PID:
                self.media_bytes += PACKET_SIZE
        self.bytes += whole
        self._notify()
        return data[whole:]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_media(self, nbytes: int, timeout: float) -> None:
        """Wait for `nbytes` more of real data; CheckFailed if the stream ends or is too slow."""
        target = self.media_bytes + nbytes
        try:
            async with asyncio.timeout(timeout):
                while self.media_bytes < target:
                    if self.ended:
                        raise CheckFailed(f"client stopped receiving: {self.ended}")
                    await self._changed.wait()
        except TimeoutError:
            raise CheckFailed(
                f"only {self.media_bytes - target + nbytes} of {nbytes} bytes in {timeout:g} s"
            ) from None

    async def close(self) -> None:
        await cancel_and_wait(self._task)


class PlaybackCheck:
    PROXY_CHECKS = ("TS bytes flow", "two clients, one upstream", "client survives reconnect")

    def __init__(self, settings: Settings, content_id: str, seconds: float = 5.0) -> None:
        # The check's own acemux: private, on a free local port, so it needs no token.
        self.settings = settings.model_copy(
            update={"host": "127.0.0.1", "port": 0, "token": SecretStr("")}
        )
        self.content_id = content_id.lower()
        self.seconds = seconds
        self.results: list[Result] = []
        # Long enough for an engine that withholds the stream while it prebuffers.
        self.wait = self.settings.prebuffer_timeout + self.settings.engine_api_timeout

    async def run(self) -> list[Result]:
        # The first engine configured is the one checked.
        engine = EngineClient(self.settings, self.settings.engines[0].url)
        await engine.open()
        try:
            await self._run(engine)
        finally:
            await engine.close()
        return self.results

    async def _run(self, engine: EngineClient) -> None:
        if not await self._step("engine reachable", self._version(engine)):
            self._skip("getstream answers", "identity encoding", *self.PROXY_CHECKS)
            return
        info = await self._step("getstream answers", self._getstream(engine))
        if not info:
            self._skip("identity encoding", *self.PROXY_CHECKS)
            return
        try:
            await self._step("identity encoding", self._identity(info))
        finally:
            await engine.stop(info.command_url)  # the proxy starts a session of its own
        async with AcemuxServer(self.settings) as server, aiohttp.ClientSession() as http:
            await self._through_proxy(engine, server, http)

    async def _through_proxy(
        self, engine: EngineClient, server: AcemuxServer, http: aiohttp.ClientSession
    ) -> None:
        url = f"{server.url}/ace/getstream?id={self.content_id}"
        first = TsClient(http, url)
        second: TsClient | None = None
        try:
            if not await self._step("TS bytes flow", self._flow(first)):
                self._skip(*self.PROXY_CHECKS[1:])
                return
            second = TsClient(http, url)
            shared = await self._step(
                "two clients, one upstream", self._shared(server, http, first, second)
            )
            if not shared:
                self._skip(*self.PROXY_CHECKS[2:])
                return
            await self._step(
                "client survives reconnect", self._reconnect(engine, server, http, first)
            )
        finally:
            for client in (first, second):
                if client is not None:
                    await client.close()

    # -- the checks, each returning its detail line -----------------------------------

    async def _version(self, engine: EngineClient) -> str:
        version = await engine.version()
        if version.version is None:
            return f"{engine.base_url}: answers (HTTP {version.status}), version unknown"
        return f"{engine.base_url}: version {version.version} ({version.platform or '?'})"

    async def _getstream(self, engine: EngineClient) -> StreamInfo:
        return await engine.start_stream({"id": self.content_id}, {})

    async def _identity(self, info: StreamInfo) -> str:
        """Open the playback URL with acemux's headers; the body must come back uncompressed."""
        sent: dict[str, str] = {}

        async def on_headers_sent(session, context, params) -> None:
            sent.update(params.headers)

        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(on_headers_sent)
        timeout = aiohttp.ClientTimeout(total=self.wait)
        async with aiohttp.ClientSession(
            headers=IDENTITY_HEADERS, auto_decompress=False, trace_configs=[trace], timeout=timeout
        ) as http:
            async with http.get(info.playback_url) as resp:
                if resp.status != 200:
                    raise CheckFailed(f"playback URL answered HTTP {resp.status}")
                encoding = resp.headers.get("Content-Encoding", "")
                body = await resp.content.read(PROBE_BYTES)
        if sent.get("Accept-Encoding") != "identity":
            raise CheckFailed(f"sent Accept-Encoding: {sent.get('Accept-Encoding')!r}")
        if encoding not in ("", "identity"):
            raise CheckFailed(f"engine answered Content-Encoding: {encoding}")
        if body.startswith(GZIP_MAGIC) or not _looks_like_ts(body):
            raise CheckFailed(f"body is not plain MPEG-TS (starts {body[:4].hex()})")
        return f"sent Accept-Encoding: identity; body uncompressed ({encoding or 'no'} encoding)"

    async def _flow(self, client: TsClient) -> str:
        await client.wait_media(PACKET_SIZE, self.wait)  # the engine's first packet
        start, before = time.monotonic(), client.bytes
        media_before = client.media_bytes
        await asyncio.sleep(self.seconds)  # a fixed listening window: the bitrate's base
        elapsed = time.monotonic() - start
        if client.ended:
            raise CheckFailed(f"stream broke off: {client.ended}")
        if client.sync_errors:
            raise CheckFailed(
                f"{client.sync_errors} of {client.packets} packets lack the sync byte"
            )
        media = client.media_bytes - media_before
        if media == 0:
            raise CheckFailed(f"only null packets for {elapsed:.1f} s")
        return (
            f"{(client.bytes - before) / 1e6:.2f} MB in {elapsed:.1f} s, "
            f"{media * 8 / elapsed / 1e6:.2f} Mbit/s, {client.packets} packets in sync"
        )

    async def _shared(
        self, server: AcemuxServer, http: aiohttp.ClientSession, first: TsClient, second: TsClient
    ) -> str:
        await asyncio.gather(
            second.wait_media(SHARED_BYTES, self.wait), first.wait_media(SHARED_BYTES, self.wait)
        )
        stream = await self._api(server, http)
        clients, sessions = len(stream["clients"]), stream["engine"]["sessions"]
        reconnects = stream["reconnects"]
        if clients != 2 or sessions != 1 or reconnects:
            raise CheckFailed(
                f"{clients} clients on {sessions} engine sessions, {reconnects} reconnects"
            )
        return "2 clients playing from 1 engine session and 1 upstream connection"

    async def _reconnect(
        self,
        engine: EngineClient,
        server: AcemuxServer,
        http: aiohttp.ClientSession,
        client: TsClient,
    ) -> str:
        session = server.app[REGISTRY].find(self.content_id)
        if session is None or session.info is None:
            raise CheckFailed("the channel has no engine session")
        # Stopping the engine session cuts acemux's upstream: the engine's end, not ours.
        await engine.stop(session.info.command_url)
        try:
            async with asyncio.timeout(self.wait):
                while session.reconnects == 0:  # data left in flight may still arrive first
                    await client.wait_media(PACKET_SIZE, self.wait)
        except TimeoutError:
            raise CheckFailed(f"acemux did not reconnect within {self.wait:g} s") from None
        await client.wait_media(AFTER_RECONNECT_BYTES, self.wait)
        stream = await self._api(server, http)
        return (
            f"upstream cut and reopened ({stream['reconnects']} reconnects, "
            f"{stream['engine']['sessions']} engine sessions); the client kept playing"
        )

    # -- helpers -----------------------------------------------------------------------

    async def _api(self, server: AcemuxServer, http: aiohttp.ClientSession) -> dict:
        async with http.get(f"{server.url}/api/v1/streams/{self.content_id}") as resp:
            body = await resp.json()
            if resp.status != 200:
                raise CheckFailed(f"/api/v1/streams answered HTTP {resp.status}: {body}")
            return body

    async def _step(self, name: str, work: Awaitable[T]) -> T | None:
        """Run one check; record it; return its value, or None when it failed."""
        try:
            value = await work
        except (CheckFailed, AcemuxError) as err:
            self.results.append(Result(name, "fail", str(err)))
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            self.results.append(Result(name, "fail", repr(err)))
            return None
        detail = value if isinstance(value, str) else _describe(value)
        self.results.append(Result(name, "pass", detail))
        return value

    def _skip(self, *names: str) -> None:
        for name in names:
            self.results.append(Result(name, "skip", "needs an earlier check to pass"))


def _looks_like_ts(body: bytes, packets: int = 3) -> bool:
    """True when some offset has the sync byte at the start of `packets` packets in a row."""
    span = PACKET_SIZE * packets
    return any(
        all(body[o + i] == SYNC_BYTE for i in range(0, span, PACKET_SIZE))
        for o in range(min(PACKET_SIZE, len(body) - span + 1))
    )


def _describe(info: StreamInfo) -> str:
    return f"playback session {info.playback_session_id[:12]}…, infohash {info.infohash[:12]}…"


def format_table(results: list[Result]) -> str:
    width = max(len("CHECK"), *(len(r.name) for r in results))
    lines = [f"{'CHECK':<{width}}  RESULT  DETAIL"]
    lines += [f"{r.name:<{width}}  {r.status.upper():<6}  {r.detail}" for r in results]
    return "\n".join(lines)


async def run_check(settings: Settings, content_id: str, seconds: float) -> int:
    """Run every check, print the table, and return the exit status."""
    results = await PlaybackCheck(settings, content_id, seconds).run()
    print(format_table(results), flush=True)
    return 1 if any(r.status == "fail" for r in results) else 0
