#!/usr/bin/env python3
"""A minimal engine whose stream carries its own send times (the latency benchmark's upstream).

It answers the few engine API calls a proxy makes (getstream with format=json or
as a redirect, the playback URL, stop, stat, version) and streams one shared
live timeline to every playback connection: every --interval-ms it writes one
chunk of 188-byte TS packets sized for --mbps. The last packet of each chunk is
a stamp packet (PID 0x1FF0) holding a magic, a sequence number and
CLOCK_MONOTONIC in ns taken just before the chunk is written to the socket.
A client that finds a stamp subtracts it from its own CLOCK_MONOTONIC on
arrival: the time from the engine's write to the client having the whole chunk.

Ticks are scheduled on an absolute timetable (no drift). Each chunk starts with
a PAT and PMT (one H.264 stream) and every 0.5 s with a video keyframe, so a
proxy finds join points as in a real channel. Plain HTTP/1.1 without chunked
encoding (body until close), one request per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
import urllib.parse

import uvloop

PACKET = 188
MAGIC = b"AMXSTAMP"
STAMP_PID = 0x1FF0
PMT_PID = 0x1000
VIDEO_PID = 0x0100
KEYFRAME_SECONDS = 0.5
VERSION = {"code": 3017000, "platform": "linux", "version": "3.1.70"}


def crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1 ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def psi_packet(pid: int, section: bytes) -> bytes:
    section += crc32_mpeg(section).to_bytes(4, "big")
    head = bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, 0x10, 0x00])  # PUSI, pointer field 0
    return (head + section).ljust(PACKET, b"\xff")


# PAT: program 1 -> PMT_PID. PMT: one H.264 stream on VIDEO_PID, which carries the PCR.
PAT = psi_packet(
    0,
    bytes(
        [
            0x00,
            0xB0,
            0x0D,
            0x00,
            0x01,
            0xC1,
            0x00,
            0x00,
            0x00,
            0x01,
            0xE0 | PMT_PID >> 8,
            PMT_PID & 0xFF,
        ]
    ),
)
PMT = psi_packet(
    PMT_PID,
    bytes(
        [
            0x02,
            0xB0,
            0x12,
            0x00,
            0x01,
            0xC1,
            0x00,
            0x00,
            0xE0 | VIDEO_PID >> 8,
            VIDEO_PID & 0xFF,
            0xF0,
            0x00,
            0x1B,
            0xE0 | VIDEO_PID >> 8,
            VIDEO_PID & 0xFF,
            0xF0,
            0x00,
        ]
    ),
)
# A video PES start flagged random access (adaptation field RAI), an IDR NAL inside.
_PES = b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05\x21\x00\x01\x00\x01" + b"\x00\x00\x00\x01\x65"
KEYFRAME = (bytes([0x47, 0x40 | VIDEO_PID >> 8, VIDEO_PID & 0xFF, 0x30, 0x01, 0x40]) + _PES).ljust(
    PACKET, b"\xff"
)
FILL = bytes([0x47, VIDEO_PID >> 8, VIDEO_PID & 0xFF, 0x10]).ljust(PACKET, b"\xff")
STAMP_HEAD = bytes([0x47, STAMP_PID >> 8 & 0x1F, STAMP_PID & 0xFF, 0x10]) + MAGIC
STAMP_PAD = b"\xff" * (PACKET - len(STAMP_HEAD) - 16)


def http_response(
    status: str, body: bytes, ctype: str = "application/json", extra: str = ""
) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    ).encode() + body


class Engine:
    def __init__(self, mbps: float, interval: float) -> None:
        self.interval = interval
        packets = max(4, round(mbps * 1e6 / 8 * interval / PACKET))
        # Every chunk: PAT, PMT, video, then the stamp; a keyframe every KEYFRAME_SECONDS.
        self.body = PAT + PMT + FILL * (packets - 3)
        self.key_body = PAT + PMT + KEYFRAME + FILL * (packets - 4)
        self.keyframe_every = max(1, round(KEYFRAME_SECONDS / interval))
        self.players: set[asyncio.Transport] = set()
        self.seq = 0
        self.loop = asyncio.get_running_loop()

    def start(self) -> None:
        self.t0 = self.loop.time()
        self.loop.call_at(self.t0 + self.interval, self.tick)

    def tick(self) -> None:
        self.seq += 1
        # Next tick on the absolute timetable; skip ticks that are already past.
        due = self.t0 + (self.seq + 1) * self.interval
        now = self.loop.time()
        if due < now:
            skipped = int((now - due) / self.interval) + 1
            self.seq += skipped
            due += skipped * self.interval
        self.loop.call_at(due, self.tick)
        if not self.players:
            return
        seq = self.seq.to_bytes(8, "big")
        body = self.key_body if self.seq % self.keyframe_every == 0 else self.body
        chunk = body + STAMP_HEAD + seq + time.monotonic_ns().to_bytes(8, "big") + STAMP_PAD
        for transport in self.players:
            transport.write(chunk)


class Handler(asyncio.Protocol):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.playing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.playing:
            return
        self.buf += data
        if b"\r\n\r\n" not in self.buf:
            return
        line = self.buf.split(b"\r\n", 1)[0].decode("latin-1")
        host = "127.0.0.1"
        for header in self.buf.split(b"\r\n")[1:]:
            if header.lower().startswith(b"host:"):
                host = header.split(b":", 1)[1].strip().decode("latin-1")
        self.buf = b""
        self.route(line.split(" ")[1], host)

    def route(self, target: str, host: str) -> None:
        assert self.transport is not None
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/ace/getstream":
            cid = query.get("id") or query.get("content_id") or query.get("infohash") or ""
            token = secrets.token_hex(8)
            base = f"http://{host}"
            answer = {
                "playback_url": f"{base}/ace/r/{cid}/{token}",
                "stat_url": f"{base}/ace/stat/{cid}/{token}",
                "command_url": f"{base}/ace/cmd/{cid}/{token}",
                "infohash": cid,
                "playback_session_id": token,
                "is_live": 1,
            }
            if query.get("format") == "json":
                body = json.dumps({"response": answer, "error": None}).encode()
                self.transport.write(http_response("200 OK", body))
            else:
                extra = f"Location: {answer['playback_url']}\r\n"
                self.transport.write(http_response("302 Found", b"", extra=extra))
            self.transport.close()
        elif url.path.startswith("/ace/r/"):
            self.playing = True
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n"
            )
            self.engine.players.add(self.transport)
        else:
            if url.path.startswith("/ace/cmd/"):
                answer = {"response": "ok", "error": None}
            elif url.path.startswith("/ace/stat/"):
                answer = {"response": {"status": "dl", "peers": 1}, "error": None}
            elif url.path == "/webui/api/service":
                answer = {"result": VERSION, "error": None}
            else:
                self.transport.write(http_response("404 Not Found", b"{}"))
                self.transport.close()
                return
            self.transport.write(http_response("200 OK", json.dumps(answer).encode()))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.players.discard(self.transport)


async def main_async(args: argparse.Namespace) -> None:
    engine = Engine(args.mbps, args.interval_ms / 1000)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(engine), "127.0.0.1", args.port)
    engine.start()
    print(f"stamp engine on 127.0.0.1:{args.port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="Engine that stamps send times into TS.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mbps", type=float, default=4.0)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    args = parser.parse_args()
    try:
        uvloop.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
