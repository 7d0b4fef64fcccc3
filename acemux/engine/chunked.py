"""Transfer-Encoding: chunked, undone incrementally (RFC 9112 §7.1), for stream_reader.py."""

from __future__ import annotations

LINE_LIMIT = 4096  # a chunk-size line (with extensions) or a trailer line


class StreamProtocolError(ConnectionError):
    """The engine's answer is not HTTP acemux can read, or its body was cut short."""


class ChunkedDecoder:
    """Feed it the body as it arrives; it returns the payload and says when it is done."""

    __slots__ = ("_state", "_left", "_line", "done")

    def __init__(self) -> None:
        self._state = "size"  # size, data, data-end (its CRLF), trailer
        self._left = 0  # bytes of the current chunk still to come
        self._line = b""  # a size or trailer line split across reads
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        """The payload in `data`, in order; raise StreamProtocolError on bad framing."""
        out: list[bytes] = []
        pos, n = 0, len(data)
        while pos < n and not self.done:
            if self._state == "data":
                take = min(self._left, n - pos)
                out.append(data if take == n else data[pos : pos + take])
                pos += take
                self._left -= take
                if not self._left:
                    self._state, self._line = "data-end", b""
                continue
            if self._state == "data-end":  # the CRLF after a chunk's data: checked at once
                byte = data[pos]
                pos += 1
                if byte == 0x0A:  # LF (after CR, or a bare LF)
                    self._state, self._line = "size", b""
                elif byte != 0x0D or self._line:
                    raise StreamProtocolError("chunk data not followed by CRLF")
                else:
                    self._line = b"\r"
                continue
            end = data.find(b"\n", pos)
            if end < 0:
                self._line += data[pos:]
                if len(self._line) > LINE_LIMIT:
                    raise StreamProtocolError("chunk framing line too long")
                break
            line = (self._line + data[pos:end]).rstrip(b"\r")
            self._line, pos = b"", end + 1
            self._on_line(line)
        return out

    def _on_line(self, line: bytes) -> None:
        if self._state == "size":
            field = line.split(b";", 1)[0].strip()
            if not field or any(c not in b"0123456789abcdefABCDEF" for c in field):
                raise StreamProtocolError(f"bad chunk size line {line[:40]!r}")
            size = int(field, 16)
            self._state, self._left = ("data", size) if size else ("trailer", 0)
        elif not line:  # the empty line after the last chunk's trailer: complete
            self.done = True
