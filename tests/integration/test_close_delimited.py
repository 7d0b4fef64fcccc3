"""A stream's body is close-delimited: raw TS after the head, no chunked framing.

Read over raw sockets so that what is checked is the bytes on the wire, not
what an HTTP client library makes of them.
"""

from __future__ import annotations

import asyncio

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID, default_loop
from tests.streamclient import strip_null_packets
from tests.tspackets import assert_whole_packets

BODY_BYTES = 188 * 3000


async def _raw_get(port: int, version: str, nbytes: int) -> tuple[list[str], bytes]:
    """Send one GET; return the response's head lines and the first `nbytes` of its body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET /ace/getstream?id={DEMO_CONTENT_ID} {version}\r\n"
            "Host: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        async with asyncio.timeout(15):
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(nbytes)
    finally:
        writer.close()
        await writer.wait_closed()
    return head.decode("latin-1").split("\r\n")[:-2], body


def _header(lines: list[str], name: str) -> str | None:
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
async def test_stream_body_is_raw_ts_until_the_connection_closes(engine, proxy, version):
    engine.faults.start_mode = "start_of_file"  # so the engine's bytes are known
    lines, body = await _raw_get(proxy.port, version, BODY_BYTES)
    assert lines[0].startswith(f"{version} 200"), lines
    assert _header(lines, "Transfer-Encoding") is None, lines
    assert _header(lines, "Content-Length") is None, lines
    assert _header(lines, "Content-Type") == "video/mp2t"
    if version == "HTTP/1.1":
        # Without a length, only the close can end the body (RFC 9112 §6.3).
        assert _header(lines, "Connection") == "close", lines
    else:
        assert _header(lines, "Connection") in (None, "close"), lines
    # The body is the engine's TS itself, from its first byte: no size lines in between.
    assert_whole_packets(body)
    sent = strip_null_packets(body)
    assert len(sent) > BODY_BYTES // 2
    assert sent == default_loop().loop_bytes(0)[: len(sent)]
