#!/usr/bin/env python3
"""Run every benchmark in turn and print their summary lines at the end.

    python benchmarks/run_all.py            # the full set (about 20 minutes)
    python benchmarks/run_all.py --quick    # each in its tiny configuration (seconds)
    python benchmarks/run_all.py --json-dir out/   # also keep each one's figures as JSON

Each benchmark runs as its own process (python benchmarks/<name>.py); its
output streams through. The exit status is non-zero if any could not run
(a benchmark that runs but misses a bar still counts as run).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, script, extra arguments); the unpaced fan-out is skipped in quick mode.
BENCHMARKS = [
    ("fanout", "fanout.py", []),
    # Unpaced the box saturates: up to 100 clients, so every client process starts in time.
    ("fanout-unpaced", "fanout.py", ["--mbps", "0", "--clients", "1,100"]),
    ("latency", "latency.py", []),
    ("ttfb", "ttfb.py", []),
    ("isolation", "isolation.py", []),
    ("channels", "channels.py", []),
    ("viewer_memory", "viewer_memory.py", []),
    ("recovery", "recovery.py", []),
    ("profiles", "profiles.py", []),
    ("warm", "warm.py", []),
    ("wakeups", "wakeups.py", []),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--src", type=Path, help="acemux source tree to benchmark")
    parser.add_argument("--json-dir", type=Path, help="write each benchmark's figures here")
    parser.add_argument("--only", help="comma-separated names to run, e.g. fanout,latency")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
    summaries: list[str] = []
    failed: list[str] = []
    started = time.monotonic()
    for name, script, extra in BENCHMARKS:
        if only is not None and name not in only:
            continue
        if args.quick and name == "fanout-unpaced" and only is None:
            continue
        cmd = [sys.executable, str(HERE / script), *extra]
        if args.quick:
            cmd.append("--quick")
        if args.src:
            cmd += ["--src", str(args.src)]
        if args.json_dir:
            cmd += ["--json", str(args.json_dir / f"{name}.json")]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                if line.startswith("SUMMARY "):
                    summaries.append(line.strip().replace("SUMMARY ", f"SUMMARY [{name}] ", 1))
            proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
            raise
        if proc.returncode != 0:
            failed.append(name)
    print(f"\n=== all done in {time.monotonic() - started:.0f} s")
    for line in summaries:
        print(line)
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
