#!/usr/bin/env python3
"""What one viewer costs in memory, and where: tracemalloc inside an acemux process.

acemux runs in this process (uvloop, its real app and settings) in front of a
fake engine in its own process. Viewers are plain sockets in a thread of
their own that reads them all as fast as the stream comes (so nothing queues
for them), through one buffer and without asyncio, so that what tracemalloc
sees growing is acemux's own memory. The script opens --base viewers, takes
a snapshot, opens --more viewers, takes another, and prints the growth per
added viewer, grouped by the acemux or aiohttp line that allocated it, next
to the growth of this process's RSS (which includes the reader thread's
socket objects, a few hundred bytes each, and tracemalloc's own overhead).
"""

from __future__ import annotations

import asyncio
import gc
import os
import selectors
import socket
import sys
import threading
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import uvloop
from harness import (
    Bench,
    base_parser,
    content_id,
    print_machine,
    rss_kib,
    run_main,
    summary,
    write_json,
)

READ_BUF = bytearray(256 * 1024)
OURS = ("/acemux/", "/aiohttp/", "/asyncio/", "/uvloop/")


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=500, help="viewers before the first snapshot")
    parser.add_argument("--more", type=int, default=500, help="viewers added before the second")
    # Low, so that one Python thread reads 1000 sockets at the stream's rate: a
    # viewer that falls behind holds queued data and its catch-up task, which
    # is not what a viewer costs. What a viewer's objects cost is rate-independent.
    parser.add_argument("--mbps", type=float, default=1.0)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before each snapshot")
    parser.add_argument(
        "--fill", type=float, default=9.0, help="seconds for the ring to fill (--ring-seconds)"
    )
    parser.add_argument("--top", type=int, default=15, help="allocation sites listed")
    args = parser.parse_args()
    if args.quick:
        args.base, args.more, args.settle, args.fill, args.top = 5, 5, 0.5, 0.5, 5
    return args


class Readers(threading.Thread):
    """Viewers as plain sockets, all read by this thread through one buffer."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.socks: list[socket.socket] = []
        self.received = 0
        self.stop = threading.Event()

    def open(self, n: int) -> None:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.sendall(self.request)
            sock.setblocking(False)
            with self.lock:
                self.socks.append(sock)
                self.selector.register(sock, selectors.EVENT_READ)

    def run(self) -> None:
        view = memoryview(READ_BUF)
        while not self.stop.is_set():
            with self.lock:
                events = self.selector.select(timeout=0.05) if self.socks else []
            for key, _ in events:
                try:
                    got = key.fileobj.recv_into(view)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    got = 0
                if not got:
                    with self.lock:
                        self.selector.unregister(key.fileobj)
                self.received += got
            if not events:
                time.sleep(0.001)

    def close(self) -> None:
        self.stop.set()
        self.join(5)
        for sock in self.socks:
            sock.close()


def site(trace: tracemalloc.Traceback) -> str:
    """The innermost frame in acemux, aiohttp, asyncio or uvloop: who asked for the memory."""
    for frame in reversed(trace):  # innermost first
        if any(part in frame.filename for part in OURS):
            name = frame.filename.split("/site-packages/")[-1].split("/acemux/", 1)[-1]
            return f"{name}:{frame.lineno}"
    return "(other)"


async def measure(args: Any, engine_url: str) -> dict[str, Any]:
    from acemux.config import Settings
    from acemux.web.app import AcemuxServer

    settings = Settings(
        host="127.0.0.1",
        port=0,
        engine=engine_url,
        max_clients_per_channel=args.base + args.more + 10,
    )
    loop = asyncio.get_running_loop()
    async with AcemuxServer(settings) as server:
        readers = Readers(server.port, f"/ace/getstream?id={content_id(0, 'viewer-memory')}")
        readers.start()
        try:
            await loop.run_in_executor(None, readers.open, args.base)
            await asyncio.sleep(max(args.fill, args.settle))  # the ring full: it no longer grows
            tracemalloc.start(12)
            gc.collect()
            before, rss_before = tracemalloc.take_snapshot(), rss_kib(os.getpid())
            await loop.run_in_executor(None, readers.open, args.more)
            await asyncio.sleep(args.settle)
            gc.collect()
            after, rss_after = tracemalloc.take_snapshot(), rss_kib(os.getpid())
            tracemalloc.stop()
            viewers = sum(len(s.viewers) for s in _sessions(server))
        finally:
            readers.close()
    grown: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for diff in after.compare_to(before, "traceback"):
        grown[site(diff.traceback)] += diff.size_diff
        counts[site(diff.traceback)] += diff.count_diff
    return {
        "viewers": viewers,
        "grown": dict(grown),
        "counts": dict(counts),
        "rss_kib_per_viewer": (rss_after - rss_before) / args.more,
        "received": readers.received,
    }


def _sessions(server: Any) -> list[Any]:
    from acemux.web.keys import REGISTRY

    return server.app[REGISTRY].sessions()


def main() -> int:
    args = parse_args()
    print(f"memory per viewer: {args.base} viewers, then {args.more} more, {args.mbps:g} Mbit/s")
    machine = print_machine(args.src)
    sys.path.insert(0, str(Path(args.src).resolve()))
    with Bench(args) as bench:
        _engine, engine_url = bench.fake_engine(args.mbps)
        result = uvloop.run(measure(args, engine_url))
    if result["viewers"] < args.base + args.more:
        print(f"only {result['viewers']} viewers were connected at the second snapshot")
    per_viewer = sum(result["grown"].values()) / args.more
    print(f"\ntraced growth per added viewer: {per_viewer / 1024:.2f} KiB")
    print(f"RSS growth per added viewer: {result['rss_kib_per_viewer']:.2f} KiB\n")
    print("| bytes per viewer | objects per viewer | allocated at |")
    print("|---|---|---|")
    top = sorted(result["grown"].items(), key=lambda kv: -kv[1])[: args.top]
    for where, size in top:
        objects = result["counts"][where] / args.more
        print(f"| {size / args.more:.0f} | {objects:.1f} | {where} |")
    write_json(args.json, {"machine": machine, "args": vars(args), "result": result})
    summary(
        "viewer_memory",
        f"{per_viewer / 1024:.2f} KiB traced and {result['rss_kib_per_viewer']:.1f} KiB RSS per "
        f"viewer from {args.base} to {args.base + args.more}",
    )
    return 0


if __name__ == "__main__":
    run_main(main)
