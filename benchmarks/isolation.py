#!/usr/bin/env python3
"""Benchmark 4, isolation: healthy viewers next to viewers that stop reading.

One channel from the fake engine, paced at --mbps (default 4 Mbit/s). 100
healthy clients read everything; then 10 clients join that ask for the stream
and never read (4 KiB receive buffer), so acemux's writes to them back up.
Over the window (30 s) every healthy client records the longest gap between
two reads and its throughput. A reference client reads a second channel
straight from the engine at the same time: its longest gap is the engine's own
pacing (it writes one chunk per 40 ms) plus scheduling on this busy machine.

Bars: the healthy clients' longest gap <= 50 ms, and their throughput the full
stream rate (>= 99% of the reference client's).
"""

from __future__ import annotations

import time
from typing import Any

from harness import (
    Bench,
    BenchError,
    CpuWindow,
    base_parser,
    content_id,
    http_json,
    percentile,
    print_machine,
    run_main,
    step,
    summary,
    table,
    verdict,
    write_json,
)

BAR_GAP_MS = 50.0
BAR_RATE = 0.99


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--healthy", type=int, default=100)
    parser.add_argument("--stalled", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    parser.add_argument("--mbps", type=float, default=4.0)
    args = parser.parse_args()
    if args.quick:
        args.healthy = min(args.healthy, 10)
        args.stalled = min(args.stalled, 2)
        args.seconds = min(args.seconds, 1.5)
    return args


def count_behind(status_url: str) -> int:
    try:
        return sum(not v.get("live", True) for v in http_json(status_url)["viewers"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def viewers_behind(status_url: str) -> str | None:
    """What acemux's status API says about its viewers (best effort: None if it cannot)."""
    try:
        viewers = http_json(status_url)["viewers"]
        behind = [v for v in viewers if not v.get("live", True)]
        backlog = sum(v.get("backlog_bytes", 0) for v in viewers)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (
        f"{len(viewers)} viewers, {len(behind)} not live (served from the ring at their own pace),"
        f" {backlog / 1024:.0f} KiB queued in their sockets' buffers"
    )


def main() -> int:
    args = parse_args()
    print(
        f"isolation: {args.healthy} healthy + {args.stalled} stalled clients, {args.mbps:g} Mbit/s,"
        f" {args.seconds:g} s"
    )
    machine = print_machine(args.src)
    with Bench(args) as bench:
        _engine, engine_url = bench.fake_engine(args.mbps)
        ace, ace_url = bench.acemux(engine_url)
        url = f"{ace_url}/ace/getstream?id={content_id(0, 'isolation')}"
        limit = args.seconds + 120
        healthy = bench.clients("healthy", ["--url", url], limit)
        reference = bench.clients(
            "reference", ["--direct", engine_url, "--id", content_id(1, "isolation")], limit
        )
        stalled = bench.clients("stalled", ["--mode", "stall", "--url", url], limit)
        with step("healthy clients and the reference"):
            for proc, n in ((healthy, args.healthy), (reference, 1)):
                answer = proc.cmd(cmd="add", n=n, timeout=30)
                if answer["first_byte"] < n:
                    raise BenchError(f"{proc.name}: {answer}")
            time.sleep(0.5 if args.quick else 2.0)
        with step(f"{args.stalled} stalled clients join; measuring {args.seconds:g} s"):
            healthy.cmd(cmd="mark")
            reference.cmd(cmd="mark")
            window = CpuWindow({"acemux": ace, "clients": [healthy, stalled, reference]})
            window.start()
            answer = stalled.cmd(cmd="add", n=args.stalled, timeout=30)
            if answer["alive"] < args.stalled:
                raise BenchError(f"stalled clients did not connect: {answer}")
            status_url = f"{ace_url}/ace/status?id={content_id(0, 'isolation')}"
            started, all_behind_at = time.monotonic(), None
            while time.monotonic() - started < args.seconds:
                time.sleep(min(1.0, max(0.0, args.seconds - (time.monotonic() - started))))
                if all_behind_at is None and count_behind(status_url) >= args.stalled:
                    all_behind_at = time.monotonic() - started
            h = healthy.cmd(cmd="stats")
            r = reference.cmd(cmd="stats")
            w = window.stop()
            rss = ace.rss_kib()
            behind = viewers_behind(status_url)
        ace.check_alive()

    gaps = [1000 * g for g in h["conn_gap"]]
    rates = [b / h["elapsed"] for b in h["conn_bytes"]]
    ref_rate = r["bytes"] / r["elapsed"]
    ref_gap = 1000 * max(r["conn_gap"])
    nominal = args.mbps * 1e6 / 8
    rows = [
        [
            "healthy via acemux",
            args.healthy,
            h["alive"],
            percentile(gaps, 50),
            percentile(gaps, 99),
            max(gaps),
            100 * min(rates) / nominal,
            100 * sum(rates) / len(rates) / nominal,
        ],
        [
            "reference, engine direct",
            1,
            r["alive"],
            ref_gap,
            ref_gap,
            ref_gap,
            100 * ref_rate / nominal,
            100 * ref_rate / nominal,
        ],
    ]
    print()
    print(
        table(
            [
                "clients",
                "n",
                "alive at end",
                "longest gap p50 ms",
                "p99 ms",
                "max ms",
                "slowest % of rate",
                "mean % of rate",
            ],
            rows,
        )
    )
    print(
        f"\nacemux: CPU {100 * w['cpu']['acemux'] / w['elapsed']:.1f}% of a core, RSS "
        f"{rss / 1024:.1f} MiB; clients {100 * w['cpu']['clients'] / w['elapsed']:.0f}%;"
        f" machine {100 * w['machine_busy']:.0f}% busy; healthy clients lost: {h['lost']}"
    )
    if behind is not None:
        print(f"acemux's view at the end: {behind}")
    if all_behind_at is not None:
        print(
            f"all {args.stalled} stalled viewers had backed up in acemux (not live) "
            f"{all_behind_at:.0f} s into the window (the kernel's send buffers took the first MBs)"
        )
    worst = max(gaps)
    slowest = min(rates) / ref_rate
    gap_ok = worst <= BAR_GAP_MS
    rate_ok = slowest >= BAR_RATE and h["alive"] == args.healthy
    write_json(
        args.json,
        {"machine": machine, "args": vars(args), "healthy": h, "reference": r, "window": w},
    )
    summary(
        "isolation",
        f"{args.healthy} healthy + {args.stalled} stalled: longest gap {worst:.1f} ms "
        f"(engine's own {ref_gap:.1f} ms; bar <= {BAR_GAP_MS:g} ms: {verdict(gap_ok, args.quick)}); "
        f"slowest healthy client {100 * slowest:.1f}% of the stream rate "
        f"(bar full rate: {verdict(rate_ok, args.quick)})",
    )
    return 0


if __name__ == "__main__":
    run_main(main)
