#!/usr/bin/env python3
"""Benchmark 1, fan-out cost: N clients on one channel, acemux next to the limit baseline.

For each target (acemux, then baseline.py: the smallest uvloop program that
reads the same upstream and writes each chunk to N sockets) it starts a fresh
fake engine and the target, then adds clients step by step (1, 10, 100, 500)
to the same process. After each step it waits, then measures over a window:

- aggregate throughput delivered to the clients (bytes counted by the clients,
  10^9 bytes = 1 GB);
- CPU seconds (utime+stime from /proc/<pid>/stat) of the target process alone,
  per GB delivered, and as % of one core;
- RSS (VmRSS) of the target, and its growth per client added since the last step;
- the slowest client's rate as % of the stream rate (paced runs);
- CPU of the engine and of the client processes, and how busy the machine was:
  clients run in their own processes and compete with the target for the 2 cores.

The stream is paced (--mbps, default 20 Mbit/s) so every client can be served
at full rate and both programs deliver the same bytes; --mbps 0 streams unpaced
to find the throughput ceiling instead. The ring is filled before the first
window so RSS steps compare like with like.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    Bench,
    BenchError,
    CpuWindow,
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
from profile_summary import summarise

RING_BYTES = 16 * 1024 * 1024  # acemux's default --ring-bytes
BAR_CPU_RATIO = 1.3
BAR_RSS_KIB = 64


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int_list, default=[1, 10, 100, 500])
    parser.add_argument("--mbps", type=float, default=20.0, help="stream rate; 0: unpaced")
    parser.add_argument("--targets", default="acemux,baseline")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after each step")
    parser.add_argument("--window", type=float, default=5.0, help="measuring window, seconds")
    parser.add_argument(
        "--repeat", type=int, default=3, help="windows per step; the median one is reported"
    )
    parser.add_argument("--client-procs", type=int, default=2, help="load-client processes")
    parser.add_argument(
        "--baseline-read-size", type=int, default=64 * 1024, help="the baseline's read size"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record py-spy profiles of acemux (N >= 100) into this directory; "
        "the figures of a profiled run are perturbed by the sampling",
    )
    parser.add_argument(
        "--profile-min-clients", type=int, default=100, help="profile steps with N >= this"
    )
    args = parser.parse_args()
    if args.quick:
        args.clients = [1, 5]
        args.warmup = min(args.warmup, 0.2)
        args.window = min(args.window, 0.5)
        args.repeat = 1
        args.client_procs = 1
    return args


def run_target(bench: Bench, args: Any, target: str) -> list[dict[str, Any]]:
    cid = content_id(0, "fanout")
    engine, engine_url = bench.fake_engine(args.mbps)
    most = max(args.clients)
    if target == "acemux":
        proc, base = bench.acemux(engine_url, "--max-clients-per-channel", str(most + 10))
        url = f"{base}/ace/getstream?id={cid}"
    else:
        proc, base = bench.baseline(engine_url, cid, "--read-size", str(args.baseline_read_size))
        url = base + "/"
    procs = [
        bench.clients(f"clients-{target}-{i}", ["--url", url], max_seconds=900)
        for i in range(args.client_procs)
    ]
    rate = args.mbps * 1e6 / 8  # bytes/s; 0 when unpaced
    fill = 2.0 if not rate else min(RING_BYTES / rate + 1.0, 15.0)
    rows = []
    previous_n, previous_rss = 0, 0
    for i, n in enumerate(args.clients):
        delta = n - previous_n
        with step(f"{target}: {n} clients"):
            for j, client in enumerate(procs):
                k = delta // len(procs) + (j < delta % len(procs))
                if k:
                    answer = client.cmd(cmd="add", n=k, timeout=60)
                    if answer["timed_out"] or answer["failed"]:
                        raise BenchError(f"{target}: clients failed to start: {answer}")
            time.sleep(fill if i == 0 and not args.quick else args.warmup)
            proc.check_alive()
            spy = start_profile(args, target, n, proc.pid)
            windows = [
                measure_window(args, target, n, proc, engine, procs, rate)
                for _ in range(args.repeat)
            ]
            rss = proc.rss_kib()
            finish_profile(spy)
        # The median window by CPU per GB stands for the step; the others give its spread.
        windows.sort(key=lambda r: r["cpu_s_per_gb"])
        row = dict(windows[len(windows) // 2])
        row["cpu_s_per_gb_min"] = windows[0]["cpu_s_per_gb"]
        row["cpu_s_per_gb_max"] = windows[-1]["cpu_s_per_gb"]
        row["rss_mib"] = rss / 1024
        row["rss_kib_per_client"] = (rss - previous_rss) / delta if previous_n else float("nan")
        alive = min(r["alive"] for r in windows)
        rows.append(row)
        print(
            f"{target:8} N={n:<4} {row['mbytes_per_s']:8.1f} MB/s  cpu {row['cpu_pct']:5.1f}%"
            f"  {row['cpu_s_per_gb']:.3f} s/GB ({row['cpu_s_per_gb_min']:.3f}-"
            f"{row['cpu_s_per_gb_max']:.3f})  rss {row['rss_mib']:.1f} MiB"
            f"  slowest {row['slowest_pct']:.0f}%"
            f"  (engine {row['engine_cpu_pct']:.0f}%, clients {row['clients_cpu_pct']:.0f}%,"
            f" machine {row['machine_busy_pct']:.0f}% busy)",
            flush=True,
        )
        if alive < n:
            raise BenchError(f"{target}: only {alive} of {n} clients still connected")
        previous_n, previous_rss = n, rss
    bench.stop_all()
    return rows


def measure_window(
    args: Any, target: str, n: int, proc: Any, engine: Any, procs: list[Any], rate: float
) -> dict[str, Any]:
    """One measuring window: what the clients got, the processes' CPU."""
    for client in procs:
        client.cmd(cmd="mark")
    window = CpuWindow({"target": proc, "engine": engine, "clients": procs})
    window.start()
    time.sleep(args.window)
    stats = [client.cmd(cmd="stats") for client in procs]
    w = window.stop()
    elapsed = sum(s["elapsed"] for s in stats) / len(stats)
    delivered = sum(s["bytes"] for s in stats)
    conn_bytes = [b for s in stats for b in s["conn_bytes"]]
    cpu = w["cpu"]["target"]
    return {
        "target": target,
        "clients": n,
        "alive": sum(s["alive"] for s in stats),
        "seconds": elapsed,
        "bytes": delivered,
        "mbytes_per_s": delivered / elapsed / 1e6,
        "gbit_per_s": delivered * 8 / elapsed / 1e9,
        "cpu_s": cpu,
        "cpu_pct": 100 * cpu / w["elapsed"],
        "sys_pct_of_cpu": 100 * w["sys"]["target"] / cpu if cpu else float("nan"),
        "cpu_s_per_gb": cpu / (delivered / 1e9) if delivered else float("nan"),
        # Paced: the slowest client's rate as % of the stream's; unpaced: % of the mean client.
        "slowest_pct": (
            100 * min(conn_bytes) / (elapsed * rate if rate else delivered / len(conn_bytes))
            if conn_bytes and delivered
            else float("nan")
        ),
        "engine_cpu_pct": 100 * w["cpu"]["engine"] / w["elapsed"],
        "clients_cpu_pct": 100 * w["cpu"]["clients"] / w["elapsed"],
        "machine_busy_pct": 100 * w["machine_busy"],
    }


def start_profile(args: Any, target: str, n: int, pid: int) -> Any:
    if not args.profile or target != "acemux" or n < args.profile_min_clients:
        return None
    if not shutil.which("py-spy"):
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"acemux-N{n}.txt"
    seconds = max(1, int(args.window * args.repeat))
    cmd = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def finish_profile(spy: Any) -> None:
    if spy is None:
        return
    popen, out = spy
    try:
        popen.wait(15)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
    if out.exists():
        print(summarise(out), flush=True)


def main() -> int:
    args = parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    print(
        "fan-out: one channel, N clients;", "unpaced" if not args.mbps else f"{args.mbps:g} Mbit/s"
    )
    machine = print_machine(args.src)
    results: dict[str, list[dict[str, Any]]] = {}
    with Bench(args) as bench:
        for target in targets:
            results[target] = run_target(bench, args, target)

    slowest = "slowest % of mean" if not args.mbps else "slowest % of rate"
    headers = [
        "target",
        "N",
        "MB/s",
        "Gbit/s",
        "CPU %",
        "of it kernel %",
        "CPU s/GB",
        "s/GB range",
        "RSS MiB",
        "RSS KiB/client",
        slowest,
        "engine CPU %",
        "clients CPU %",
        "machine busy %",
    ]
    rows = [
        [
            r["target"],
            r["clients"],
            r["mbytes_per_s"],
            r["gbit_per_s"],
            r["cpu_pct"],
            r["sys_pct_of_cpu"],
            r["cpu_s_per_gb"],
            f"{r['cpu_s_per_gb_min']:.3f}-{r['cpu_s_per_gb_max']:.3f}",
            r["rss_mib"],
            r["rss_kib_per_client"],
            r["slowest_pct"],
            r["engine_cpu_pct"],
            r["clients_cpu_pct"],
            r["machine_busy_pct"],
        ]
        for target in targets
        for r in results[target]
    ]
    print()
    print(table(headers, rows))

    parts = []
    verdicts: dict[str, Any] = {}
    if "acemux" in results and "baseline" in results:
        base = {r["clients"]: r for r in results["baseline"]}
        ratio_rows = []
        for r in results["acemux"]:
            b = base.get(r["clients"])
            if b:
                ratio = r["cpu_s_per_gb"] / b["cpu_s_per_gb"] if b["cpu_s_per_gb"] else float("nan")
                ratio_rows.append([r["clients"], r["cpu_s_per_gb"], b["cpu_s_per_gb"], ratio])
                verdicts[r["clients"]] = ratio
        print()
        print(table(["N", "acemux s/GB", "baseline s/GB", "ratio"], ratio_rows))
        for n in (100, 500):
            if n in verdicts and not math.isnan(verdicts[n]):
                ok = verdicts[n] <= BAR_CPU_RATIO
                parts.append(
                    f"N={n} CPU/GB {verdicts[n]:.2f}x baseline (bar <= {BAR_CPU_RATIO}x: "
                    f"{verdict(ok, args.quick)})"
                )
    if "acemux" in results:
        ace = results["acemux"]
        last = ace[-1]
        if not parts:
            parts.append(f"N={last['clients']} {last['cpu_s_per_gb']:.3f} s/GB")
        growth = last["rss_kib_per_client"]
        if not math.isnan(growth):
            parts.append(
                f"RSS +{growth:.1f} KiB/client at N={last['clients']} "
                f"(bar <= {BAR_RSS_KIB} KiB: {verdict(growth <= BAR_RSS_KIB, args.quick)})"
            )
        parts.append(f"{last['gbit_per_s']:.2f} Gbit/s to {last['clients']} clients")
    write_json(args.json, {"machine": machine, "args": vars(args), "results": results})
    summary("fanout", "; ".join(parts) if parts else "no acemux run")
    return 0


if __name__ == "__main__":
    run_main(main)
