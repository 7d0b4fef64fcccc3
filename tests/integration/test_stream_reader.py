"""The lean engine-stream reader (acemux/engine/stream_reader.py) on real sockets.

Against the fake engine (an aiohttp server; the reader asks in HTTP/1.0, so
it answers close-delimited) and against raw socket servers that answer chunked
(as a server might even so), close-delimited and with a Content-Length, stall,
or close in the middle of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import AsyncIterator, Awaitable, Callable

import pytest

from acemux.config import Settings
from acemux.engine.api import EngineClient
from acemux.engine.chunked import StreamProtocolError
from acemux.engine.stream_reader import StreamConnection, open_stream
from acemux.errors import EngineError, EngineUnavailable
from acemux.fake_engine import FakeEngine

READ_SIZE = 128 * 1024
HEADERS = {"Accept-Encoding": "identity"}
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server on a free port; yields its URL and the request heads it received."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/ace/r/abc/def?x=1", heads
    finally:
        server.close()
        await server.wait_closed()


async def collect(conn: StreamConnection) -> bytes:
    parts: list[bytes] = []
    await asyncio.wait_for(conn.deliver(parts.append), 10)
    return b"".join(parts)


PAYLOAD = [bytes([i % 256]) * (1000 + 997 * i) for i in range(40)]


async def test_chunked_answer_split_anywhere_is_de_chunked() -> None:
    wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in PAYLOAD) + b"0\r\n\r\n"

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire[:3])
        for i in range(3, len(wire), 5001):  # pieces that cut sizes, data and CRLFs
            writer.write(wire[i : i + 5001])
            await writer.drain()
            await asyncio.sleep(0)

    async with raw_server(handler) as (url, heads):
        conn = await open_stream(url, HEADERS, 5, READ_SIZE)
        assert conn.status == 200
        assert await collect(conn) == b"".join(PAYLOAD)
    request = heads[0].decode()
    # HTTP/1.0, so that a server may not chunk it; chunked answers are undone anyway.
    assert request.startswith("GET /ace/r/abc/def?x=1 HTTP/1.0\r\n")
    assert "Accept-Encoding: identity\r\n" in request and "Host: 127.0.0.1:" in request


async def test_close_delimited_answer_ends_with_the_connection() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n")
        for part in PAYLOAD:
            writer.write(part)
            await writer.drain()

    async with raw_server(handler) as (url, _):
        conn = await open_stream(url, HEADERS, 5, READ_SIZE)
        assert conn.headers["content-type"] == "video/mp2t"
        assert await collect(conn) == b"".join(PAYLOAD)


async def test_content_length_answer_stops_at_its_length() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
        await writer.drain()
        await asyncio.sleep(30)  # the reader must not wait for the close

    async with raw_server(handler) as (url, _):
        conn = await open_stream(url, HEADERS, 5, READ_SIZE)
        assert await collect(conn) == b"hello"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly-part",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    ],
    ids=["mid-chunk", "short-of-content-length"],
)
async def test_engine_closing_mid_stream_is_an_error(answer: bytes) -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()

    async with raw_server(handler) as (url, _):
        conn = await open_stream(url, HEADERS, 5, READ_SIZE)
        with pytest.raises(StreamProtocolError):
            await collect(conn)


async def test_a_stalled_stream_is_ended_by_close() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await asyncio.sleep(30)  # then nothing

    async with raw_server(handler) as (url, _):
        conn = await open_stream(url, HEADERS, 5, READ_SIZE)
        parts: list[bytes] = []
        delivering = asyncio.ensure_future(conn.deliver(parts.append))
        while not parts:
            await asyncio.sleep(0.01)
        conn.close()  # what the channel's stall detection does
        await asyncio.wait_for(delivering, 5)
        assert parts == [b"abc"]


async def test_withheld_head_is_bounded_by_the_caller() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # an engine prebuffering: no head yet

    async with raw_server(handler) as (url, _):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await open_stream(url, HEADERS, 5, READ_SIZE)


@pytest.mark.parametrize(
    "answer", [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", b""],
    ids=["not-http", "bad-header", "closed-before-answer"],
)
async def test_malformed_or_missing_answer_is_an_error(answer: bytes) -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()

    async with raw_server(handler) as (url, _):
        with pytest.raises(StreamProtocolError):
            await open_stream(url, HEADERS, 5, READ_SIZE)


async def test_a_failing_sink_ends_the_connection_with_its_error() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n")
        while True:
            writer.write(b"x" * 1000)
            await writer.drain()
            await asyncio.sleep(0.01)

    def sink(_: bytes) -> None:
        raise ValueError("boom")

    async with raw_server(handler) as (url, _):
        conn = await open_stream(url, HEADERS, 5, READ_SIZE)
        with pytest.raises(ValueError, match="boom"):
            await asyncio.wait_for(conn.deliver(sink), 5)


async def test_reads_are_at_most_the_read_size() -> None:
    big = b"z" * (3 * 65536 + 11)

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + big)
        await writer.drain()

    async with raw_server(handler) as (url, _):
        conn = await open_stream(url, HEADERS, 5, 65536)
        parts: list[bytes] = []
        await asyncio.wait_for(conn.deliver(parts.append), 10)
        assert b"".join(parts) == big and max(map(len, parts)) <= 65536


async def test_fake_engine_stream_through_the_engine_client() -> None:
    """Asked in HTTP/1.0, the fake engine answers close-delimited: TS, whole packets."""
    async with FakeEngine(rate=4.0) as engine:
        client = EngineClient(Settings(engines=[engine.url]), engine.url)
        await client.open()
        try:
            info = await client.start_stream({"id": "a" * 40}, {})
            conn = await client.open_playback(info.playback_url)
            assert isinstance(conn, StreamConnection)
            assert "transfer-encoding" not in conn.headers  # nothing to de-chunk
            got = bytearray()

            def sink(data: bytes) -> None:
                got.extend(data)
                if len(got) >= 200 * 188:
                    conn.close()

            await asyncio.wait_for(conn.deliver(sink), 10)
            assert got[0] == 0x47 and got[188] == 0x47 and got[188 * 100] == 0x47
            await client.stop(info.command_url)
        finally:
            await client.close()


async def test_an_engine_that_streams_is_up_without_being_asked() -> None:
    """Health checks ask the engine only when none of its streams moved since the last."""
    from acemux.engine.health import EngineHealth

    async with FakeEngine(rate=4.0) as engine:
        client = EngineClient(Settings(engines=[engine.url]), engine.url)
        health = EngineHealth(client, interval=60, timeout=5)
        await client.open()
        try:
            assert await health.check() and health.by == "api"  # no stream yet
            info = await client.start_stream({"id": "b" * 40}, {})
            conn = await client.open_playback(info.playback_url)
            flowing = asyncio.Event()

            def sink(data: bytes) -> None:
                if conn.reads >= 3:
                    flowing.set()

            delivering = asyncio.ensure_future(conn.deliver(sink))
            await asyncio.wait_for(flowing.wait(), 10)
            assert await health.check() and health.by == "stream"  # streaming: not asked
            conn.close()
            await asyncio.wait_for(delivering, 5)
            assert await health.check() and health.by == "api"  # no stream left: asked
            await client.stop(info.command_url)
        finally:
            await client.close()


async def test_engine_client_errors_keep_their_kinds() -> None:
    async def not_found(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with raw_server(not_found) as (url, _):
        base = url.split("/ace/")[0]
        client = EngineClient(Settings(engines=[base]), base)
        await client.open()
        try:
            with pytest.raises(EngineError, match="HTTP 404"):
                await client.open_playback(url)
        finally:
            await client.close()
    # The server is gone now: nothing listens on its port.
    client = EngineClient(Settings(engines=[base]), base)
    await client.open()
    try:
        with pytest.raises(EngineUnavailable):
            await client.open_playback(url)
        assert client.breaker.failures == 1
    finally:
        await client.close()


async def test_a_connect_that_times_out_is_an_unreachable_engine_not_a_prebuffer() -> None:
    # A listener whose accept queue is full drops new SYNs: connecting hangs, on loopback.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(4)]
    try:
        for filler in fillers:
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(ConnectionError, match="within 0.3 s"):
            await open_stream(f"{base}/ace/r/x", HEADERS, 0.3, READ_SIZE)
        client = EngineClient(Settings(engines=[base], engine_connect_timeout=0.3), base)
        await client.open()
        try:
            with pytest.raises(EngineUnavailable, match="within 0.3 s"):
                await client.open_playback(f"{base}/ace/r/x")
            assert client.breaker.failures == 1
        finally:
            await client.close()
    finally:
        for sock in (*fillers, listener):
            sock.close()
