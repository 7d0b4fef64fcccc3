"""The benchmark scripts still run: each in its --quick configuration, all at once.

A smoke test, not a benchmark: it only checks that every script ran to the end
and printed its summary line. No figure is checked (timings on a shared CI
machine mean nothing), so no test here fails on speed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [
    "fanout", "latency", "ttfb", "isolation", "channels", "recovery", "warm", "viewer_memory",
    "profiles", "wakeups",
]
LIMIT_SECONDS = 50


@pytest.fixture(scope="module")
def quick_runs() -> dict[str, tuple[int, str, str]]:
    """Run every script with --quick in parallel: name -> (exit status, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--quick"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for name in SCRIPTS
    }
    deadline = time.monotonic() + LIMIT_SECONDS
    results = {}
    try:
        for name, proc in procs.items():
            try:
                out, err = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                proc.terminate()  # the script stops its own children on SIGTERM
                out, err = proc.communicate(timeout=10)
                err += f"\n(stopped after {LIMIT_SECONDS} s)"
            results[name] = (proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_runs_and_prints_its_summary(quick_runs, name):
    code, out, err = quick_runs[name]
    assert code == 0, f"{name} exited with {code}:\n{out[-2000:]}\n{err[-3000:]}"
    assert any(line.startswith(f"SUMMARY {name}: ") for line in out.splitlines()), out[-2000:]
