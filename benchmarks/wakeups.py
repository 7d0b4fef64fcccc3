#!/usr/bin/env python3
"""Benchmark: what one timer wake-up of a uvloop process costs in CPU on this machine.

A process that sleeps and wakes on a timer, doing nothing else, is charged
CPU time per wake-up (scheduler, timer, cache and TLB refills after the
sleep). On the VM the benchmarks run on this is 100-400 µs, more than the
Python work of a whole chunk, which is why acemux's periodic chores ride on
channel reads (acemux/wakeups.py, acemux/streaming/silence.py). The figure is
the process's own CPU from schedstat (as every benchmark measures), per wake.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import uvloop

from harness import (
    base_parser,
    print_machine,
    run_main,
    run_seconds,
    summary,
    table,
    write_json,
)


async def sleeping(rate: float, seconds: float) -> dict[str, Any]:
    """Wake `rate` times a second for `seconds` on asyncio.sleep; CPU per wake."""
    wakes = 0
    me = os.getpid()
    cpu0, start = run_seconds(me), time.monotonic()
    while time.monotonic() - start < seconds:
        await asyncio.sleep(1 / rate)
        wakes += 1
    elapsed = time.monotonic() - start
    cpu = run_seconds(me) - cpu0
    return {
        "rate": rate,
        "wakes": wakes,
        "cpu_percent": 100 * cpu / elapsed,
        "us_per_wake": 1e6 * cpu / max(wakes, 1),
    }


def main() -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    print("timer wake-ups: one uvloop process sleeping on asyncio.sleep, nothing else")
    machine = print_machine(args.src)
    results = [uvloop.run(sleeping(rate, seconds)) for rate in (2, 4, 25)]
    rows = [
        (f"{r['rate']:g}", r["wakes"], f"{r['cpu_percent']:.3f}", f"{r['us_per_wake']:.0f}")
        for r in results
    ]
    print(table(["wakes/s", "wakes", "CPU %", "CPU µs per wake"], rows))
    write_json(args.json, {"machine": machine, "results": results})
    summary(
        "wakeups",
        "CPU per timer wake-up "
        + ", ".join(f"{r['us_per_wake']:.0f} µs at {r['rate']:g}/s" for r in results),
    )
    return 0


if __name__ == "__main__":
    run_main(main)
