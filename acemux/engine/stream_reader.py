"""An engine's stream read on a plain asyncio connection, handed over as it arrives.

aiohttp's client costs, per upstream read, its parser, its StreamReader, a
timer re-armed per packet and one wake-up of the reading task: a fixed cost
per chunk that the floor program in benchmarks/ does not pay. A channel reads
one long response, so this reads it with an `asyncio.BufferedProtocol` (reads
of at most --read-size bytes, into one buffer): the head is parsed once, then
every piece of body is passed to the channel's callback as it is read, with no
task in between (`deliver`). The body is de-
chunked when the engine sends `Transfer-Encoding: chunked`, cut at its
Content-Length when it sends one, and read to the connection's end otherwise.

Kept from the aiohttp path (see EngineClient.open_playback): the connect
timeout, `Accept-Encoding: identity`, errors as `OSError` (a refused or reset
connection, a malformed answer, a body cut short), and `close()` ending the
connection at once (stall detection and failover call it). The wait for the
head, which an engine withholds while it prebuffers, is bounded by the caller.
"""

from __future__ import annotations

import asyncio
from typing import Callable
from urllib.parse import urlsplit

from acemux.engine.chunked import ChunkedDecoder, StreamProtocolError

HEAD_LIMIT = 64 * 1024  # an engine's response head is a few hundred bytes


class StreamConnection(asyncio.BufferedProtocol):
    """One engine stream response; `deliver` hands its body to a callback."""

    def __init__(self, read_size: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._buffer = memoryview(bytearray(read_size))  # every read lands here
        self._transport: asyncio.Transport | None = None
        self._head = b""
        self._head_done: asyncio.Future[None] = self._loop.create_future()
        self.status = 0
        self.headers: dict[str, str] = {}
        self._decoder: ChunkedDecoder | None = None
        self._length: int | None = None  # Content-Length still to come
        self._early: list[bytes] = []  # body that came with the head, before `deliver`
        self._sink: Callable[[bytes], None] | None = None
        # The sink, once the body is plain (no chunked framing, no length) and
        # delivered: each read goes straight to it (the hot path).
        self._plain_sink: Callable[[bytes], None] | None = None
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._closed = False
        self.reads = 0  # body reads delivered: an engine streaming is an engine alive

    # -- the channel's side ------------------------------------------------------

    async def deliver(self, sink: Callable[[bytes], None]) -> None:
        """Call `sink` with each piece of body until the body or connection ends.

        Returns at the body's end or after `close()`; raises OSError when the
        connection fails and re-raises what `sink` raised (the connection is
        closed then).
        """
        self._sink = sink
        early, self._early = self._early, []
        try:
            for data in early:
                sink(data)
        except BaseException as err:
            self._finish(err)
        if self._decoder is None and self._length is None and not self._ended.done():
            self._plain_sink = sink
        await self._ended

    def close(self) -> None:
        """End the connection at once; `deliver` returns."""
        self._closed = True
        self._finish(None)

    release = close

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        try:
            sink = self._plain_sink
            if sink is not None:  # the steady state: one copy out of the buffer, one call
                self.reads += 1
                sink(bytes(self._buffer[:nbytes]))
                return
            if self._ended.done():
                return
            data = bytes(self._buffer[:nbytes])
            if not self._head_done.done():
                data = self._take_head(data)
            if data:
                self._take_body(data)
        except BaseException as err:  # bad framing, or the sink failed: end it here
            self._finish(err)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ended.done():
            return
        if exc is not None:
            err: BaseException | None = ConnectionResetError(f"engine connection lost: {exc!r}")
        elif not self._head_done.done():
            err = StreamProtocolError("engine closed the connection before its answer")
        elif self._decoder is not None:
            err = StreamProtocolError("engine closed the stream in the middle of a chunk")
        elif self._length:
            err = StreamProtocolError(f"engine closed the stream {self._length} bytes short")
        else:
            err = None  # a close-delimited body ends here
        self._finish(err)

    # -- parsing -----------------------------------------------------------------

    def _take_head(self, data: bytes) -> bytes:
        """Collect and parse the response head; return the body bytes that followed it."""
        head = self._head + data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            if len(head) > HEAD_LIMIT:
                raise StreamProtocolError("engine's response head too long")
            self._head = head
            return b""
        self._head = b""
        lines = head[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise StreamProtocolError(f"not an HTTP/1 answer: {lines[0][:60]!r}")
        self.status = int(parts[1])
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise StreamProtocolError(f"bad header line {line[:60]!r}")
            self.headers[name.strip().lower()] = value.strip()
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._decoder = ChunkedDecoder()
        elif "content-length" in self.headers:
            try:
                self._length = int(self.headers["content-length"])
            except ValueError:
                raise StreamProtocolError("bad Content-Length") from None
        self._head_done.set_result(None)
        return head[end + 4 :]

    def _take_body(self, data: bytes) -> None:
        decoder = self._decoder
        if decoder is not None:
            for part in decoder.feed(data):
                self._pass(part)
            if decoder.done:
                self._decoder = None
                self._finish(None)
            return
        if self._length is not None:
            if len(data) >= self._length:
                data, self._length = data[: self._length], 0
                self._pass(data)
                self._finish(None)
                return
            self._length -= len(data)
        self._pass(data)

    def _pass(self, data: bytes) -> None:
        if not data:
            return
        self.reads += 1
        sink = self._sink
        if sink is None:
            self._early.append(data)  # the channel has not called deliver yet
        elif not self._ended.done():
            sink(data)

    def _finish(self, err: BaseException | None) -> None:
        self._plain_sink = None
        if self._transport is not None:
            self._transport.abort() if err is not None or self._closed else self._transport.close()
        if not self._head_done.done():
            self._head_done.set_exception(err or StreamProtocolError("connection closed"))
            self._head_done.exception()  # retrieved: a cancelled open_stream waits no more
        if not self._ended.done():
            if err is None:
                self._ended.set_result(None)
            else:
                self._ended.set_exception(err)
                if self._sink is None:  # nobody is delivering: do not warn about it later
                    self._ended.exception()

    @property
    def open(self) -> bool:
        return not self._ended.done()

    async def wait_head(self) -> None:
        await asyncio.shield(self._head_done)


async def open_stream(
    url: str, headers: dict[str, str], connect_timeout: float, read_size: int
) -> StreamConnection:
    """GET `url` (http:// only) and wait for the response head; the caller bounds that wait.

    Raises OSError when the connection or the answer fails (ConnectionError
    when connecting takes longer than `connect_timeout`). The caller closes it.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise StreamProtocolError(f"not an http:// URL: {url!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # HTTP/1.0: the server may not answer chunked (RFC 9112 §7.1), so the body
    # comes as it is, with no framing to undo per read; the connection is ours
    # alone and ends with the stream either way.
    lines = [f"GET {target} HTTP/1.0", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Connection: close", "", ""]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(connect_timeout):
            transport, conn = await loop.create_connection(
                lambda: StreamConnection(read_size), parts.hostname, parts.port or 80
            )
    except TimeoutError:  # the connect's own limit: an unreachable engine, not a prebuffer
        raise ConnectionError(
            f"no connection to {parts.netloc} within {connect_timeout:g} s"
        ) from None
    try:
        transport.write("\r\n".join(lines).encode("latin-1"))
        await conn.wait_head()
    except BaseException:
        conn.close()
        raise
    return conn
