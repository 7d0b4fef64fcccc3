#!/usr/bin/env python3
"""Load clients for the benchmarks, in a process of their own (never inside acemux).

One uvloop process holds many HTTP clients on raw sockets. A benchmark driver
starts it and sends it JSON commands, one per line on stdin; each command gets
exactly one JSON line back on stdout:

    {"cmd": "add", "n": 100}      open n more streams (round robin over the URLs),
                                  answer once each has its first body byte
    {"cmd": "mark"}               start a measuring window
    {"cmd": "stats"}              figures of the window since the last mark
    {"cmd": "probe", ...}         one join: time to first byte, PAT, PMT, keyframe
    {"cmd": "zap", ...}           a zapping soak: many short joins over some channels

Modes (--mode):
- count: read and discard through one shared buffer (asyncio.BufferedProtocol,
  no allocation per read), counting bytes and the longest gap between reads.
  With --real-data the body is de-chunked and parsed as TS, and only packets
  that are not null packets (PID 0x1FFF, acemux's keep-alive filler) count as
  data for the gaps: that is what a player sees as the picture stopping.
- stall: ask for the stream, then never read (a bare socket the event loop
  never polls, receive buffer 4 KiB).
- stamps: find the stamp packets of stampengine.py in the stream and record
  now - send time for each (both on CLOCK_MONOTONIC of this machine).

It exits on EOF on stdin, on {"cmd": "quit"} or after --max-seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import sys
import time
import urllib.parse
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency of acemux
    uvloop = None

PACKET = 188
NULL_PID = 0x1FFF
VIDEO_STREAM_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24, 0x42, 0xEA}
STAMP_MAGIC = b"AMXSTAMP"
STAMP_LEN = len(STAMP_MAGIC) + 16  # magic, sequence (8 bytes), send time in ns (8 bytes)

BUF = bytearray(256 * 1024)
VIEW = memoryview(BUF)
now = time.monotonic
now_ns = time.monotonic_ns


def split_url(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname or "127.0.0.1", parts.port or 80, path


def request_bytes(host: str, port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: acemux-bench\r\n"
        "Accept: */*\r\n\r\n"
    ).encode()


def percentiles(values: list[float], scale: float = 1.0) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    values = sorted(values)
    n = len(values)

    def at(p: float) -> float:
        return values[min(n - 1, max(0, math.ceil(p / 100 * n) - 1))] * scale

    return {
        "n": n,
        "p50": at(50),
        "p90": at(90),
        "p99": at(99),
        "p999": at(99.9),
        "max": values[-1] * scale,
        "mean": sum(values) / n * scale,
    }


# -- stream parsing -------------------------------------------------------------------


class Dechunker:
    """Incremental HTTP/1.1 chunked-encoding decoder."""

    def __init__(self) -> None:
        self.line = b""
        self.left = 0
        self.skip = 0
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        i, n = 0, len(data)
        while i < n and not self.done:
            if self.left:
                take = min(self.left, n - i)
                out.append(data[i : i + take])
                i += take
                self.left -= take
                if not self.left:
                    self.skip = 2
            elif self.skip:
                take = min(self.skip, n - i)
                i += take
                self.skip -= take
            else:
                j = data.find(b"\n", i)
                if j < 0:
                    self.line += data[i:]
                    break
                line, self.line = self.line + data[i:j], b""
                i = j + 1
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.done = True
                self.left = size
        return out


class TsWatch:
    """Watches aligned TS for the first PAT, then PMT, then video keyframe."""

    def __init__(self) -> None:
        self.rem = b""
        self.pmt_pids: set[int] = set()
        self.video_pids: set[int] = set()
        self.pat: float | None = None
        self.pmt: float | None = None
        self.key: float | None = None
        self.last_real: float | None = None
        self.packets = 0

    def feed(self, data: bytes, t: float, watch: bool = True) -> bool:
        """Feed body bytes; True when they held at least one non-null packet."""
        buf = self.rem + data if self.rem else data
        end = len(buf) - len(buf) % PACKET
        real = False
        pos = 0
        while pos < end:
            if buf[pos] != 0x47:  # lost sync: hunt for the next sync byte
                nxt = buf.find(b"\x47", pos + 1)
                if nxt < 0:
                    pos = len(buf)
                    break
                pos = nxt
                end = pos + (len(buf) - pos) // PACKET * PACKET
                continue
            pid = (buf[pos + 1] & 0x1F) << 8 | buf[pos + 2]
            if pid != NULL_PID:
                real = True
                if watch and self.key is None:
                    self._packet(buf, pos, pid, t)
            pos += PACKET
            self.packets += 1
        self.rem = buf[pos:]
        if real:
            self.last_real = t
        return real

    def _packet(self, buf: bytes, pos: int, pid: int, t: float) -> None:
        pusi = buf[pos + 1] & 0x40
        afc = buf[pos + 3] >> 4 & 3
        payload = pos + 4
        if afc & 2:
            payload += 1 + buf[pos + 4]
        if pid == 0 and pusi and afc & 1:
            sec = payload + 1 + buf[payload]
            length = (buf[sec + 1] & 0x0F) << 8 | buf[sec + 2]
            for p in range(sec + 8, min(sec + 3 + length - 4, pos + PACKET), 4):
                program = buf[p] << 8 | buf[p + 1]
                if program:
                    self.pmt_pids.add((buf[p + 2] & 0x1F) << 8 | buf[p + 3])
            if self.pmt_pids and self.pat is None:
                self.pat = t
        elif pid in self.pmt_pids and pusi and self.pat is not None and afc & 1:
            sec = payload + 1 + buf[payload]
            length = (buf[sec + 1] & 0x0F) << 8 | buf[sec + 2]
            info = (buf[sec + 10] & 0x0F) << 8 | buf[sec + 11]
            p = sec + 12 + info
            stop = min(sec + 3 + length - 4, pos + PACKET)
            while p + 5 <= stop:
                stype = buf[p]
                es_pid = (buf[p + 1] & 0x1F) << 8 | buf[p + 2]
                if stype in VIDEO_STREAM_TYPES:
                    self.video_pids.add(es_pid)
                p += 5 + ((buf[p + 3] & 0x0F) << 8 | buf[p + 4])
            if self.video_pids and self.pmt is None:
                self.pmt = t
        elif pid in self.video_pids and self.pmt is not None:
            rai = afc & 2 and buf[pos + 4] and buf[pos + 5] & 0x40
            if rai or (pusi and _has_idr(buf[payload : pos + PACKET])):
                self.key = t


def _has_idr(payload: bytes) -> bool:
    """An H.264 IDR slice (NAL type 5) or HEVC IRAP (16..21) start in a PES's first packet."""
    i = payload.find(b"\x00\x00\x01", 9)
    while i >= 0 and i + 3 < len(payload):
        nal = payload[i + 3]
        if nal & 0x1F == 5 or 16 <= (nal >> 1 & 0x3F) <= 21 and not nal & 0x80:
            return True
        i = payload.find(b"\x00\x00\x01", i + 3)
    return False


# -- streaming connections ---------------------------------------------------------------


class Conn(asyncio.BufferedProtocol):
    """One stream, read through the process-wide buffer."""

    def __init__(self, client: LoadClient, url_index: int, request: bytes) -> None:
        self.client = client
        self.index = len(client.conns)
        self.url_index = url_index
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.status = 0
        self.body_started = False
        self.dechunk: Dechunker | None = None
        self.ts: TsWatch | None = None
        self.tail = b""
        self.first: float | None = None
        self.last = 0.0
        self.bytes = 0
        self.win_bytes = 0
        self.win_gap = 0.0
        self.lost = False
        self.parsing = client.real_data or client.mode == "stamps"
        self.first_byte = client.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def get_buffer(self, sizehint: int) -> memoryview:
        return VIEW

    def buffer_updated(self, nbytes: int) -> None:
        t = now()
        if not self.body_started:
            self._header(bytes(VIEW[:nbytes]), t)
            return
        self.bytes += nbytes
        self.win_bytes += nbytes
        if self.parsing:
            self._parse(bytes(VIEW[:nbytes]), t)
            return
        if self.first is None:
            self._first(t)
        else:
            gap = t - self.last
            self.win_gap = max(self.win_gap, gap)
        self.last = t

    def _header(self, data: bytes, t: float) -> None:
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > 65536 and self.transport:
                self.transport.abort()
            return
        head, body = self.head[:end], self.head[end + 4 :]
        self.head = b""
        try:
            self.status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            self.status = -1
        if self.status != 200:
            self.client.failed += 1
            if not self.first_byte.done():
                self.first_byte.set_result(None)
            if self.transport:
                self.transport.close()
            return
        self.body_started = True
        if self.parsing and b"transfer-encoding: chunked" in head.lower():
            self.dechunk = Dechunker()
        if self.client.real_data:
            self.ts = TsWatch()
        if body:
            self.bytes += len(body)
            self.win_bytes += len(body)
            if self.parsing:
                self._parse(body, t)
            else:
                self._first(t)
                self.last = t

    def _first(self, t: float) -> None:
        if self.first is None:
            self.first = t
            if not self.first_byte.done():
                self.first_byte.set_result(None)

    def _parse(self, data: bytes, t: float) -> None:
        pieces = self.dechunk.feed(data) if self.dechunk else [data]
        client = self.client
        if client.mode == "stamps":
            for piece in pieces:
                self._stamps(piece)
            if pieces:
                self._first(t)
            return
        ts = self.ts
        assert ts is not None
        real = False
        for piece in pieces:
            real = ts.feed(piece, t, watch=False) or real
        if not real:
            return
        if self.first is None:
            self._first(t)
            self.last = t
            return
        gap = t - self.last
        self.win_gap = max(self.win_gap, gap)
        if gap >= client.record_gap:
            client.big_gaps.append((t, gap, self.index))
        self.last = t

    def _stamps(self, data: bytes) -> None:
        s = self.tail + data if self.tail else data
        pos = 0
        arrived = now_ns()
        samples = self.client.samples
        while True:
            i = s.find(STAMP_MAGIC, pos)
            if i < 0:
                self.tail = s[max(pos, len(s) - STAMP_LEN + 1) :]
                return
            if i + STAMP_LEN > len(s):
                self.tail = s[i:]
                return
            sent = int.from_bytes(s[i + 16 : i + 24], "big")
            samples.append((arrived - sent) / 1e6)
            pos = i + STAMP_LEN

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.client.lost += 1
        if not self.first_byte.done():
            self.first_byte.set_result(None)

    def eof_received(self) -> bool:
        return False


class LoadClient:
    def __init__(self, args: argparse.Namespace, urls: list[str]) -> None:
        self.loop = asyncio.get_running_loop()
        self.mode = args.mode
        self.real_data = args.real_data
        self.record_gap = args.record_gap
        self.urls = urls
        self.conns: list[Conn] = []
        self.stalled_socks: list[socket.socket] = []
        self.failed = 0
        self.lost = 0
        self.samples: list[float] = []
        self.big_gaps: list[tuple[float, float, int]] = []
        self.mark_at = now()
        self._next_url = 0

    async def add(self, n: int, timeout: float = 30.0, concurrency: int = 64) -> dict[str, Any]:
        sem = asyncio.Semaphore(concurrency)
        new: list[Conn] = []

        async def one() -> None:
            index = self._next_url % len(self.urls)
            self._next_url += 1
            host, port, path = split_url(self.urls[index])
            conn = Conn(self, index, request_bytes(host, port, path))
            new.append(conn)
            self.conns.append(conn)
            async with sem:
                try:
                    if self.mode == "stall":
                        # A bare socket the loop never reads: the request, then nothing.
                        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                        sock.setblocking(False)
                        await self.loop.sock_connect(sock, (host, port))
                        await self.loop.sock_sendall(sock, conn.request)
                        self.stalled_socks.append(sock)
                        conn.first_byte.set_result(None)
                    else:
                        await self.loop.create_connection(lambda: conn, host, port)
                except OSError:
                    self.failed += 1
                    conn.lost = True
                    if not conn.first_byte.done():
                        conn.first_byte.set_result(None)
            await conn.first_byte

        tasks = [asyncio.ensure_future(one()) for _ in range(n)]
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        return {
            "added": n,
            "conns": len(self.conns),
            "first_byte": sum(c.first is not None for c in self.conns),
            "alive": sum(not c.lost for c in self.conns),
            "failed": self.failed,
            "timed_out": len(pending),
        }

    def mark(self) -> dict[str, Any]:
        t = now()
        self.mark_at = t
        for c in self.conns:
            c.win_bytes = 0
            c.win_gap = 0.0
        self.samples = []
        self.big_gaps = []
        return {"ok": True, "at": t}

    def stats(self) -> dict[str, Any]:
        t = now()
        gaps = []
        for c in self.conns:
            gap = c.win_gap
            if not c.lost and c.first is not None:
                gap = max(gap, t - c.last)  # a stream that stopped has a gap until now
            gaps.append(gap)
        return {
            "at": t,
            "elapsed": t - self.mark_at,
            "conns": len(self.conns),
            "alive": sum(not c.lost for c in self.conns),
            "first_byte": sum(c.first is not None for c in self.conns),
            "failed": self.failed,
            "lost": self.lost,
            "bytes": sum(c.win_bytes for c in self.conns),
            "conn_bytes": [c.win_bytes for c in self.conns],
            "conn_url": [c.url_index for c in self.conns],
            "conn_gap": gaps,
            "latency_ms": percentiles(self.samples),
            "big_gaps": self.big_gaps,
        }


# -- one-shot HTTP (probes, zapping, resolving a playback URL) ------------------------------


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, head


async def http_get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """A whole small response (the engine's JSON API)."""
    host, port, path = split_url(url)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
            )
            status, headers, _ = await read_head(reader)
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            else:
                body = await reader.read(1 << 20)
                if headers.get("transfer-encoding") == "chunked":
                    body = b"".join(Dechunker().feed(body))
        finally:
            writer.close()
    return status, headers, body


async def playback_url(engine: str, cid: str) -> str:
    """Ask an engine for a playback session (getstream format=json), as a proxy would."""
    status, _, body = await http_get(f"{engine}/ace/getstream?id={cid}&format=json")
    answer = json.loads(body)
    if status != 200 or not answer.get("response"):
        raise RuntimeError(f"getstream failed: {status} {answer.get('error')}")
    return answer["response"]["playback_url"]


async def probe(
    url: str, direct: bool = False, timeout: float = 5.0, max_bytes: int = 16 << 20
) -> dict[str, Any]:
    """One viewer joining: seconds from asking until first body byte, first real byte
    (the first packet that is not a null packet), PAT, PMT, keyframe.

    With direct, `url` is an engine's getstream URL: the redirect to the playback
    URL is followed, as a player talking to the engine itself would.
    """
    t0 = now()
    out: dict[str, Any] = {"status": 0}
    writer = None
    try:
        async with asyncio.timeout(timeout):
            for _hop in range(3):
                host, port, path = split_url(url)
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request_bytes(host, port, path))
                status, headers, _ = await read_head(reader)
                out["status"] = status
                if status in (301, 302, 307) and direct:
                    url = headers["location"]
                    writer.close()
                    writer = None
                    continue
                break
            out["headers"] = now() - t0
            if out["status"] != 200:
                return out
            dechunk = Dechunker() if headers.get("transfer-encoding") == "chunked" else None
            ts = TsWatch()
            got = 0
            while ts.key is None and got < max_bytes:
                data = await reader.read(65536)
                t = now() - t0
                if not data:
                    break
                got += len(data)
                for piece in dechunk.feed(data) if dechunk else [data]:
                    if piece and "ttfb" not in out:
                        out["ttfb"] = t
                    if ts.feed(piece, t) and "real" not in out:
                        out["real"] = t  # the engine's data, not acemux's null filler
            out.update(pat=ts.pat, pmt=ts.pmt, key=ts.key, bytes=got)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as err:
        out["error"] = repr(err)
    finally:
        if writer is not None:
            writer.close()
    return out


async def zap(
    urls: list[str],
    zappers: int,
    seconds: float,
    nbytes: int,
    zap_timeout: float = 10.0,
    pause: float = 0.0,
) -> dict[str, Any]:
    """`zappers` viewers each flipping through `urls`: join, read nbytes, leave, next."""
    deadline = now() + seconds
    ttfbs: list[float] = []
    errors: dict[str, int] = {}
    count = 0

    async def zapper(k: int) -> None:
        nonlocal count
        i = k
        while now() < deadline:
            url = urls[i % len(urls)]
            i += 1
            t0 = now()
            writer = None
            try:
                async with asyncio.timeout(zap_timeout):
                    host, port, path = split_url(url)
                    reader, writer = await asyncio.open_connection(host, port)
                    writer.write(request_bytes(host, port, path))
                    status, _, _ = await read_head(reader)
                    if status != 200:
                        errors[f"http {status}"] = errors.get(f"http {status}", 0) + 1
                        continue
                    got = 0
                    first = None
                    while got < nbytes:
                        data = await reader.read(65536)
                        if not data:
                            raise ConnectionError("stream ended")
                        if first is None:
                            first = now() - t0
                        got += len(data)
                    ttfbs.append(first)
                    count += 1
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as err:
                kind = type(err).__name__
                errors[kind] = errors.get(kind, 0) + 1
            finally:
                if writer is not None:
                    writer.close()
            if pause:
                await asyncio.sleep(pause)

    started = now()
    await asyncio.gather(*(zapper(k) for k in range(zappers)))
    return {
        "zaps": count,
        "seconds": now() - started,
        "errors": errors,
        "ttfb_ms": percentiles(ttfbs, 1000.0),
    }


# -- main ---------------------------------------------------------------------------------


async def serve_commands(args: argparse.Namespace) -> None:
    urls = list(args.url or [])
    if args.direct:
        urls += [await playback_url(args.direct, cid) for cid in args.id]
    client = LoadClient(args, urls)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        req = json.loads(line)
        cmd = req.pop("cmd")
        try:
            if cmd == "add":
                answer = await client.add(**req)
            elif cmd == "mark":
                answer = client.mark()
            elif cmd == "stats":
                answer = client.stats()
            elif cmd == "probe":
                answer = await probe(**req)
            elif cmd == "zap":
                answer = await zap(**req)
            elif cmd == "quit":
                return
            else:
                answer = {"error": f"unknown command {cmd!r}"}
        except Exception as err:  # noqa: BLE001 (reported to the driver, which decides)
            answer = {"error": repr(err)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    try:
        async with asyncio.timeout(args.max_seconds):
            await serve_commands(args)
    except TimeoutError:
        print(f"loadclient: stopping after --max-seconds {args.max_seconds}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("count", "stall", "stamps"), default="count")
    parser.add_argument("--url", action="append", help="stream URL (repeatable)")
    parser.add_argument("--direct", help="engine base URL: stream straight from the engine")
    parser.add_argument("--id", action="append", default=[], help="content id for --direct")
    parser.add_argument("--real-data", action="store_true", help="gaps count non-null TS only")
    parser.add_argument("--record-gap", type=float, default=0.1, help="list gaps >= this (s)")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    if uvloop is not None:
        uvloop.run(main_async(args))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
