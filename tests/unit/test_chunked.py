"""ChunkedDecoder: Transfer-Encoding chunked undone whatever the read boundaries."""

from __future__ import annotations

import pytest

from acemux.engine.chunked import ChunkedDecoder, StreamProtocolError


def encode(parts: list[bytes], trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return body + b"0\r\n" + trailer + b"\r\n"


def decode_in_pieces(wire: bytes, piece: int) -> tuple[bytes, bool]:
    decoder = ChunkedDecoder()
    out = b"".join(
        b"".join(decoder.feed(wire[i : i + piece])) for i in range(0, len(wire), piece)
    )
    return out, decoder.done


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 188, 1000, 1 << 20])
def test_any_read_boundaries_give_the_payload(piece: int) -> None:
    parts = [bytes([i]) * (i * 37 + 1) for i in range(20)]
    out, done = decode_in_pieces(encode(parts), piece)
    assert out == b"".join(parts)
    assert done


def test_extensions_trailers_and_upper_case_hex() -> None:
    wire = b"1A;name=value\r\n" + b"x" * 26 + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    out, done = decode_in_pieces(wire, 5)
    assert out == b"x" * 26 and done


def test_a_whole_read_of_one_chunk_is_passed_without_a_copy() -> None:
    decoder = ChunkedDecoder()
    data = b"y" * 1000
    assert decoder.feed(b"3e8\r\n") == []
    (part,) = decoder.feed(data)
    assert part is data


def test_nothing_after_the_last_chunk_is_payload() -> None:
    decoder = ChunkedDecoder()
    assert b"".join(decoder.feed(encode([b"abc"]) + b"garbage")) == b"abc"
    assert decoder.done


@pytest.mark.parametrize(
    "wire",
    [b"zz\r\nab\r\n", b"-1\r\n", b"\r\n", b"2\r\nabXY", b"1" * 5000],
    ids=["not-hex", "negative", "empty-size", "no-crlf-after-data", "endless-size-line"],
)
def test_bad_framing_is_an_error(wire: bytes) -> None:
    with pytest.raises(StreamProtocolError):
        ChunkedDecoder().feed(wire)
