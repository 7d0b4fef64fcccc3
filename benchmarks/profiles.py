#!/usr/bin/env python3
"""Profiles: the CPU of one aac and one h264 profile, and raw viewers' latency beside a profile.

1. cpu: the fake engine's H.264 + AC-3 channel in real time (the bundled
   sample's bitrate) and one viewer of its `?profile=aac`, then of its
   `?profile=h264` (a video re-encode): ffmpeg's CPU (read from /proc) over
   --window seconds, and acemux's.
2. latency: the stamp engine (see latency.py) and --clients raw viewers of one
   channel, measured without, then with an aac profile of the same channel
   running (one viewer of it), --rounds times in turn so that what else the
   machine does falls on both. The profile's ffmpeg is one more viewer of the
   raw channel; the raw viewers should not notice it.
"""

from __future__ import annotations

import time
import os
import statistics
import urllib.error
from typing import Any
from urllib.parse import quote

from harness import (
    Bench,
    BenchError,
    base_parser,
    content_id,
    cpu_seconds,
    http_json,
    print_machine,
    run_main,
    sample_mbps,
    step,
    summary,
    table,
    wait_until,
    write_json,
)
from latency import measure

AC3_ID = "ac3a11ce5e0d0fa7c0dec0ffee0000000ac3ac3a"  # the fake engine's AC-3 channel


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--cpu-profiles", default="aac,h264", help="profiles whose CPU is measured")
    parser.add_argument("--rounds", type=int, default=3, help="latency: alone/beside pairs")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=20, help="raw viewers in the latency part")
    parser.add_argument("--mbps", type=float, default=4.0, help="stamp engine rate, Mbit/s")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="stamp engine interval")
    args = parser.parse_args()
    if args.quick:
        args.window, args.warmup, args.clients, args.rounds = 1.0, 0.5, 2, 1
    return args


def profile_of(ace_url: str, key: str) -> dict[str, Any]:
    return http_json(f"{ace_url}/api/v1/streams/{quote(key, safe='')}")


def start_profile_viewer(bench: Bench, name: str, ace_url: str, key: str) -> Any:
    """One viewer of a profile; returns its load client and the profile's ffmpeg pid."""
    viewer = bench.clients(name, ["--url", f"{ace_url}/ace/getstream?{key_query(key)}"], 600)
    answer = viewer.cmd(cmd="add", n=1, timeout=60)
    if answer["first_byte"] < 1:
        raise BenchError(f"{name}: the profile viewer got no data")
    found: dict[str, Any] = {}

    def has_pid() -> bool:
        found.update(profile_of(ace_url, key))
        return bool(found.get("profile") and found["profile"]["pid"])

    wait_until(has_pid, 30, f"{key}: ffmpeg running")
    return viewer, found["profile"]["pid"]


def key_query(key: str) -> str:
    cid, _, rest = key.partition("?")
    return f"id={cid}" + (f"&{rest}" if rest else "")


def cpu_part(bench: Bench, args: Any, profile: str) -> dict[str, Any]:
    engine, engine_url = bench.fake_engine(sample_mbps(args.src))  # real time
    ace, ace_url = bench.acemux(engine_url)
    key = f"{AC3_ID}?profile={profile}"
    viewer, pid = start_profile_viewer(bench, f"{profile}-viewer", ace_url, key)
    time.sleep(args.warmup)
    ff0, ace0, t0 = cpu_seconds(pid), ace.cpu_seconds(), time.monotonic()
    time.sleep(args.window)
    ff1, ace1, t1 = cpu_seconds(pid), ace.cpu_seconds(), time.monotonic()
    raw, profiled = profile_of(ace_url, AC3_ID), profile_of(ace_url, key)
    for proc in (viewer, ace, engine):
        bench.stop(proc)
    seconds = t1 - t0
    return {
        "profile": profile,
        "seconds": seconds,
        "ffmpeg_cpu_pct": 100 * (ff1 - ff0) / seconds,
        "acemux_cpu_pct": 100 * (ace1 - ace0) / seconds,
        "raw_bitrate": raw["bitrate_in"],
        "profile_bitrate": profiled["bitrate_in"],
        "restarts": profiled["profile"]["restarts"],
    }


def latency_part(bench: Bench, args: Any) -> list[dict[str, Any]]:
    engine, engine_url = bench.stamp_engine(args.mbps, args.interval_ms)
    ace, ace_url = bench.acemux(
        engine_url, "--max-clients-per-channel", "1000", "--grace-seconds", "0.2"
    )
    cid = content_id(0, "profiles")
    key = f"{cid}?profile=aac"
    raw = ["--url", f"{ace_url}/ace/getstream?id={cid}"]
    rows = []
    for r in range(1, args.rounds + 1):
        with step(f"round {r}: {args.clients} raw viewers, no profile"):
            lat = measure(bench, args, f"raw-alone-{r}", raw, args.clients)
        rows.append({"round": r, "beside": "nothing", "load": os.getloadavg()[0], **lat})
        viewer, pid = start_profile_viewer(bench, f"profile-viewer-{r}", ace_url, key)
        ff0 = cpu_seconds(pid)
        with step(f"round {r}: {args.clients} raw viewers, aac profile beside them"):
            lat = measure(bench, args, f"raw-beside-profile-{r}", raw, args.clients)
        ffmpeg_cpu = cpu_seconds(pid) - ff0
        rows.append(
            {"round": r, "beside": "aac profile", "load": os.getloadavg()[0],
             "ffmpeg_cpu_s": ffmpeg_cpu, **lat}
        )  # fmt: skip
        bench.stop(viewer)
        wait_until(lambda: not playing(ace_url, key), 30, f"{key}: closed after its grace")
    for proc in (ace, engine):
        bench.stop(proc)
    return rows


def playing(ace_url: str, key: str) -> bool:
    try:
        profile_of(ace_url, key)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise
    return True


def main() -> int:
    args = parse_args()
    print("profiles: each profile's CPU, and raw viewers' latency beside an aac profile")
    machine = print_machine(args.src)
    cpu: list[dict[str, Any]] = []
    with Bench(args) as bench:
        for profile in args.cpu_profiles.split(","):
            with step(f"cpu: one {profile} profile of the AC-3 channel, {args.window:g} s"):
                cpu.append(cpu_part(bench, args, profile))
        latency = latency_part(bench, args)
    print()
    print(
        table(
            ["profile", "raw channel Mbit/s", "profile Mbit/s", "ffmpeg CPU %", "acemux CPU %",
             "restarts"],
            [[c["profile"], c["raw_bitrate"] / 1e6, c["profile_bitrate"] / 1e6,
              c["ffmpeg_cpu_pct"], c["acemux_cpu_pct"], c["restarts"]] for c in cpu],
        )  # fmt: skip
    )
    print()
    print(
        table(
            ["round", "beside", "N", "p50 ms", "p90 ms", "p99 ms", "max ms", "samples",
             "received %", "machine load (1 min)"],
            [[r["round"], r["beside"], args.clients, r["p50"], r["p90"], r["p99"], r["max"],
              r["n"], r["received_pct"], r["load"]] for r in latency],
        )  # fmt: skip
    )
    medians = {
        beside: {
            p: statistics.median(r[p] for r in latency if r["beside"] == beside)
            for p in ("p50", "p99")
        }
        for beside in ("nothing", "aac profile")
    }
    alone, beside = medians["nothing"], medians["aac profile"]
    write_json(
        args.json,
        {"machine": machine, "args": vars(args), "cpu": cpu, "latency": latency,
         "medians": medians},  # fmt: skip
    )
    costs = ", ".join(f"{c['profile']} {c['ffmpeg_cpu_pct']:.1f}%" for c in cpu)
    summary(
        "profiles",
        f"profiles of a {cpu[0]['raw_bitrate'] / 1e6:.2f} Mbit/s channel, ffmpeg's CPU "
        f"(of a core): {costs}; raw viewers (median of {args.rounds} rounds) "
        f"p50 {alone['p50']:.2f} / p99 {alone['p99']:.2f} ms alone, "
        f"p50 {beside['p50']:.2f} / p99 {beside['p99']:.2f} ms beside it",
    )
    return 0


if __name__ == "__main__":
    run_main(main)
