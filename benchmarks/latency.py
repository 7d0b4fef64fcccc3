#!/usr/bin/env python3
"""Benchmark 2, added latency: from a chunk leaving the engine to the same bytes at a client.

The upstream is stampengine.py: every 10 ms it writes one chunk whose last TS
packet carries CLOCK_MONOTONIC taken just before the write. Clients (one
load-client process, --mode stamps) find each stamp in what they receive and
record arrival - send; one machine, one clock, so no clock sync is involved.
A sample is the time until the client holds the whole chunk.

Three paths are measured one after another, on the same engine timeline:
- direct: the client reads the engine's playback URL itself (the floor: kernel
  loopback plus the client's own scheduling);
- baseline: through baseline.py (the least a fan-out can add);
- acemux: through acemux.
"Added" is acemux minus direct at the same percentile. With 100 clients a
chunk reaches the clients' process as 100 sockets becoming readable at once;
it handles them in turn, so the last one is recorded later than the first:
that client-side spread is in every path's figures (see the baseline's).
"""

from __future__ import annotations

import time
from typing import Any

from harness import (
    Bench,
    BenchError,
    base_parser,
    content_id,
    int_list,
    print_machine,
    run_main,
    step,
    summary,
    table,
    verdict,
    write_json,
)

BAR_ADDED_P99_MS = 25.0  # over a direct read of the engine, at every rate


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--mbps", default="2,8,20", help="stream rates to test, Mbit/s")
    # 100 clients: one load-client process cannot read 1000 sockets every 10 ms on time.
    parser.add_argument("--clients", type=int_list, default=[1, 100])
    parser.add_argument("--interval-ms", type=float, default=10.0, help="engine chunk interval")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--targets", default="direct,baseline,acemux")
    args = parser.parse_args()
    args.mbps = [float(x) for x in args.mbps.split(",") if x.strip()]
    if args.quick:
        args.mbps = args.mbps[:1]
        args.clients = [2]
        args.window = min(args.window, 0.5)
        args.warmup = min(args.warmup, 0.2)
    return args


def measure(bench: Bench, args: Any, name: str, client_args: list[str], n: int) -> dict[str, Any]:
    clients = bench.clients(name, ["--mode", "stamps", *client_args], max_seconds=120)
    try:
        answer = clients.cmd(cmd="add", n=n, timeout=30)
        if answer["first_byte"] < n:
            raise BenchError(f"{name}: only {answer['first_byte']} of {n} clients got data")
        time.sleep(args.warmup)
        clients.cmd(cmd="mark")
        time.sleep(args.window)
        stats = clients.cmd(cmd="stats")
    finally:
        bench.stop(clients)
    lat = stats["latency_ms"]
    expected = n * args.window / (args.interval_ms / 1000)
    lat["received_pct"] = 100 * lat["n"] / expected if expected else float("nan")
    return lat


def main() -> int:
    args = parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    print(f"added latency: stamp engine, one chunk per {args.interval_ms:g} ms")
    machine = print_machine(args.src)
    results: list[dict[str, Any]] = []
    cid = content_id(0, "latency")
    with Bench(args) as bench:
        for mbps in args.mbps:
            engine, engine_url = bench.stamp_engine(mbps, args.interval_ms)
            most = str(max(args.clients) + 10)
            ace, ace_url = bench.acemux(engine_url, "--max-clients-per-channel", most)
            base, base_url = bench.baseline(engine_url, content_id(1, "latency"))
            urls = {
                "direct": ["--direct", engine_url, "--id", content_id(2, "latency")],
                "baseline": ["--url", base_url + "/"],
                "acemux": ["--url", f"{ace_url}/ace/getstream?id={cid}"],
            }
            for n in args.clients:
                for target in targets:
                    if target == "direct" and n != min(args.clients):
                        continue  # the floor: one client straight from the engine
                    with step(f"{target}, {n} clients, {mbps:g} Mbit/s"):
                        lat = measure(bench, args, f"stamps-{target}-{n}", urls[target], n)
                    row = {"mbps": mbps, "target": target, "clients": n, **lat}
                    results.append(row)
                    print(
                        f"{mbps:4g} Mbit/s {target:8} N={n:<4} p50 {lat['p50']:.3f} ms"
                        f"  p99 {lat['p99']:.3f} ms  max {lat['max']:.2f} ms"
                        f"  ({lat['n']} samples, {lat['received_pct']:.0f}% of chunks)",
                        flush=True,
                    )
            for proc in (base, ace, engine):
                bench.stop(proc)

    print()
    print(
        table(
            ["Mbit/s", "path", "N", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "samples"],
            [
                [
                    r["mbps"],
                    r["target"],
                    r["clients"],
                    r["p50"],
                    r["p90"],
                    r["p99"],
                    r["p999"],
                    r["max"],
                    r["n"],
                ]
                for r in results
            ],
        )
    )
    # Added = acemux minus direct (the same rate; direct measured with one client).
    added_rows = []
    verdicts = []
    for mbps in args.mbps:
        direct = next((r for r in results if r["mbps"] == mbps and r["target"] == "direct"), None)
        for r in results:
            if r["mbps"] != mbps or r["target"] != "acemux":
                continue
            base = next(
                (
                    b
                    for b in results
                    if b["mbps"] == mbps
                    and b["target"] == "baseline"
                    and b["clients"] == r["clients"]
                ),
                None,
            )
            nan = float("nan")
            d50 = direct["p50"] if direct else nan
            d99 = direct["p99"] if direct else nan
            added_rows.append(
                [
                    mbps,
                    r["clients"],
                    r["p50"] - d50,
                    r["p99"] - d99,
                    (r["p99"] - base["p99"]) if base else float("nan"),
                ]
            )
            if r["clients"] == max(args.clients):
                verdicts.append(
                    (mbps, r["clients"], r["p99"], (r["p99"] - d99) if direct else None)
                )
    print()
    print(
        table(
            ["Mbit/s", "N", "acemux added p50 ms", "acemux added p99 ms", "p99 vs baseline ms"],
            added_rows,
        )
    )
    parts = []
    for mbps, n, p99, added in verdicts:
        ok = added is not None and added <= BAR_ADDED_P99_MS
        over = f"{added:+.2f} ms over direct" if added is not None else "no direct read"
        parts.append(
            f"{mbps:g} Mbit/s N={n}: p99 {p99:.2f} ms end to end, {over} "
            f"(bar added p99 <= {BAR_ADDED_P99_MS:g} ms: {verdict(ok, args.quick)})"
        )
    write_json(args.json, {"machine": machine, "args": vars(args), "results": results})
    summary("latency", "; ".join(parts) if parts else "no acemux run")
    return 0


if __name__ == "__main__":
    run_main(main)
