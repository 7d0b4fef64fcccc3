#!/usr/bin/env python3
"""Benchmark 5, many channels: 50 channels x 20 clients, each channel at 4 Mbit/s.

One fake engine serves 50 channels (50 playback sessions, each paced at
--mbps); one acemux opens each once and fans it out to its 20 clients (1000
client connections, spread over two load-client processes). After a warm-up
the window measures every client's throughput (the bar: all at the full stream
rate), acemux's CPU (% of one core, and seconds per GB delivered) and RSS.

acemux keeps --ring-seconds (8 s by default) of recent stream per channel
(4 MB at 4 Mbit/s), so its RSS grows until the rings are full, 8 s after the
channels open; the warm-up outlasts that. The table shows the data held in the
rings (from /ace/status) beside the RSS; the bar is acemux's RSS in all.
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

BAR_RATE = 0.99
BAR_RSS_MIB = 300  # 50 channels at 4 Mbit/s, rings full


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20, help="per channel")
    parser.add_argument("--mbps", type=float, default=4.0)
    parser.add_argument(
        "--warmup", type=float, default=12.0, help="seconds; the rings fill in --ring-seconds"
    )
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--client-procs", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.channels = min(args.channels, 3)
        args.clients = min(args.clients, 3)
        args.warmup = min(args.warmup, 0.5)
        args.window = min(args.window, 1.0)
        args.client_procs = 1
    return args


def ring_bytes(ace_url: str, ids: list[str]) -> float:
    """Data held in the channels' rings, per /ace/status (nan if it cannot tell)."""
    total = 0
    try:
        for cid in ids:
            total += http_json(f"{ace_url}/ace/status?id={cid}")["buffer_bytes"]
    except (OSError, ValueError, KeyError, TypeError):
        return float("nan")
    return total


def main() -> int:
    args = parse_args()
    total = args.channels * args.clients
    print(f"many channels: {args.channels} x {args.clients} clients at {args.mbps:g} Mbit/s")
    machine = print_machine(args.src)
    ids = [content_id(i, "channels") for i in range(args.channels)]
    with Bench(args) as bench:
        engine, engine_url = bench.fake_engine(args.mbps)
        ace, ace_url = bench.acemux(
            engine_url,
            "--max-channels",
            str(max(args.channels, 50)),
            "--max-clients-per-channel",
            str(max(args.clients, 200)),
        )
        rss_idle = ace.rss_kib()
        procs = []
        per_proc = -(-args.channels // args.client_procs)
        for p in range(args.client_procs):
            mine = ids[p * per_proc : (p + 1) * per_proc]
            if not mine:
                continue
            urls = [a for cid in mine for a in ("--url", f"{ace_url}/ace/getstream?id={cid}")]
            procs.append(
                (bench.clients(f"clients-{p}", urls, args.warmup + args.window + 300), len(mine))
            )
        with step(f"opening {args.channels} channels, {total} clients"):
            started = time.monotonic()
            for proc, n_channels in procs:
                answer = proc.cmd(cmd="add", n=n_channels * args.clients, timeout=120)
                if answer["first_byte"] < n_channels * args.clients:
                    raise BenchError(f"{proc.name}: not every client got data: {answer}")
            ramp = time.monotonic() - started
            time.sleep(args.warmup)
        with step(f"measuring {args.window:g} s"):
            for proc, _ in procs:
                proc.cmd(cmd="mark")
            window = CpuWindow({"acemux": ace, "engine": engine, "clients": [p for p, _ in procs]})
            window.start()
            time.sleep(args.window)
            stats = [proc.cmd(cmd="stats") for proc, _ in procs]
            w = window.stop()
            rss = ace.rss_kib()
            held = ring_bytes(ace_url, ids)
            age = time.monotonic() - started
        ace.check_alive()

    nominal = args.mbps * 1e6 / 8
    rates = [b / s["elapsed"] for s in stats for b in s["conn_bytes"]]
    gaps = [1000 * g for s in stats for g in s["conn_gap"]]
    delivered = sum(s["bytes"] for s in stats)
    elapsed = sum(s["elapsed"] for s in stats) / len(stats)
    alive = sum(s["alive"] for s in stats)
    cpu = w["cpu"]["acemux"]
    row = {
        "channels": args.channels,
        "clients": total,
        "alive": alive,
        "mbytes_per_s": delivered / elapsed / 1e6,
        "slowest_pct": 100 * min(rates) / nominal,
        "p1_pct": 100 * percentile(rates, 1) / nominal,
        "mean_pct": 100 * sum(rates) / len(rates) / nominal,
        "gap_max_ms": max(gaps),
        "cpu_pct": 100 * cpu / w["elapsed"],
        "cpu_s_per_gb": cpu / (delivered / 1e9),
        "rss_mib": rss / 1024,
        "rss_idle_mib": rss_idle / 1024,
        "ring_mib": held / 2**20,
        "seconds_since_open": age,
        "open_seconds": ramp,
        "engine_cpu_pct": 100 * w["cpu"]["engine"] / w["elapsed"],
        "clients_cpu_pct": 100 * w["cpu"]["clients"] / w["elapsed"],
        "machine_busy_pct": 100 * w["machine_busy"],
    }
    print()
    print(
        table(
            [
                "channels x clients",
                "alive",
                "MB/s",
                "slowest % of rate",
                "p1 %",
                "mean %",
                "longest gap ms",
                "acemux CPU %",
                "CPU s/GB",
                "RSS MiB",
                "in rings MiB",
                "engine CPU %",
                "clients CPU %",
                "machine busy %",
            ],
            [
                [
                    f"{args.channels} x {args.clients}",
                    alive,
                    row["mbytes_per_s"],
                    row["slowest_pct"],
                    row["p1_pct"],
                    row["mean_pct"],
                    row["gap_max_ms"],
                    row["cpu_pct"],
                    row["cpu_s_per_gb"],
                    row["rss_mib"],
                    row["ring_mib"],
                    row["engine_cpu_pct"],
                    row["clients_cpu_pct"],
                    row["machine_busy_pct"],
                ]
            ],
        )
    )
    print(
        f"\nRSS {row['rss_idle_mib']:.0f} MiB before the first channel; {row['rss_mib']:.0f} MiB "
        f"{age:.0f} s after opening, when the rings held {row['ring_mib']:.0f} MiB. "
        f"All channels and clients were open after {ramp:.1f} s."
    )
    ok = min(rates) >= BAR_RATE * nominal and alive == total
    rss_ok = row["rss_mib"] <= BAR_RSS_MIB
    write_json(args.json, {"machine": machine, "args": vars(args), "result": row})
    summary(
        "channels",
        f"{args.channels} x {args.clients} at {args.mbps:g} Mbit/s: slowest client "
        f"{row['slowest_pct']:.1f}% of the stream rate (bar full rate: {verdict(ok, args.quick)}); "
        f"acemux CPU {row['cpu_pct']:.0f}% of a core ({row['cpu_s_per_gb']:.2f} s/GB), "
        f"RSS {row['rss_mib']:.0f} MiB ({row['ring_mib']:.0f} MiB in rings; bar <= "
        f"{BAR_RSS_MIB} MiB: {verdict(rss_ok, args.quick)})",
    )
    return 0


if __name__ == "__main__":
    run_main(main)
