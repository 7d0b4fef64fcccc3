"""Shared machinery of the benchmarks: child processes, /proc figures, output.

Every benchmark script is a plain synchronous driver. It starts its own
processes (the fake engine, acemux or the limit baseline, load clients), talks
to the load clients over their stdin/stdout, reads CPU and memory of each
process from /proc, prints a table and one `SUMMARY <name>: ...` line, and
stops every process it started, also on Ctrl+C, SIGTERM or an error (children
also get SIGTERM from the kernel if the driver itself dies: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import hashlib
import json
import math
import os
import platform
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEMO_ID = "663801b6e463000aa469eee13e5a8a8827ba567f"
FALLBACK_SAMPLE_MBPS = 0.8883  # the fake engine's bundled sample at rate 1
PR_SET_PDEATHSIG = 1


class BenchError(RuntimeError):
    """The benchmark could not run (a process died, a port never opened, ...)."""


# -- command line ------------------------------------------------------------------


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny configuration that runs in seconds (smoke)"
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT,
        help="acemux source tree to benchmark (default: this checkout); e.g. a scratch copy",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the child processes' logs and print where"
    )
    parser.add_argument(
        "--acemux-flag",
        action="append",
        default=[],
        metavar="FLAG=VALUE",
        help="extra setting for every acemux serve, e.g. --acemux-flag=--read-size=262144",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record a py-spy profile (raw format) of each acemux process for its whole life "
        "into DIR and summarise it at the end; the sampling perturbs the figures",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run the servers (acemux or the baseline, and the engines) on the first CPU and "
        "the load clients on the others, so where the scheduler puts each process does "
        "not vary from one target to the next",
    )
    return parser


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


# -- ids, ports, rates ----------------------------------------------------------------


def content_id(n: int, tag: str = "bench") -> str:
    """A stable 40-hex content id; each (tag, n) is its own channel."""
    return hashlib.sha1(f"acemux-{tag}-{n}".encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_sample_mbps: float | None = None


def sample_mbps(src: Path = ROOT) -> float:
    """Bitrate of the fake engine's sample at rate 1, in Mbit/s."""
    global _sample_mbps
    if _sample_mbps is None:
        try:
            sys.path.insert(0, str(src))
            from acemux.fake_engine.tsloop import default_loop

            loop = default_loop()
            _sample_mbps = len(loop.data) * 8 / loop.duration_seconds / 1e6
        except (ImportError, OSError, ValueError):  # only used to pick a rate
            _sample_mbps = FALLBACK_SAMPLE_MBPS
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(src))
    return _sample_mbps


def fake_rate(mbps: float, src: Path = ROOT) -> float:
    """The fake engine's --rate for a stream of `mbps` (0: unpaced)."""
    return 0.0 if mbps <= 0 else mbps / sample_mbps(src)


# -- /proc ------------------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads) in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    return sum(cpu_times(pid))


def run_seconds(pid: int) -> float:
    """CPU time of a process's live threads in nanosecond resolution (schedstat).

    The same quantity as utime + stime, which /proc/<pid>/stat gives only in
    10 ms ticks: a target at 2% of a core gets ~10 ticks in a 5 s window, so a
    tick either way moved a ratio by 10%. Falls back to the ticks without schedstat.
    """
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return cpu_seconds(pid)
    return total / 1e9


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def machine_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


class CpuWindow:
    """CPU seconds of some processes and the machine's load between start() and stop()."""

    def __init__(self, procs: dict[str, Proc | list[Proc]]) -> None:
        self.procs = {k: v if isinstance(v, list) else [v] for k, v in procs.items()}

    def _sample(self) -> dict[str, tuple[float, ...]]:
        out: dict[str, tuple[float, ...]] = {}
        for name, procs in self.procs.items():
            times = [(*p.cpu_times(), p.run_seconds()) for p in procs]
            out[name] = tuple(sum(t[i] for t in times) for i in range(3))
        return out

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = self._sample()
        self.m0 = machine_busy()

    def stop(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.t0
        c1 = self._sample()
        m1 = machine_busy()
        busy = (m1[0] - self.m0[0]) / max(m1[1] - self.m0[1], 1)
        user = {name: c1[name][0] - self.c0[name][0] for name in c1}
        system = {name: c1[name][1] - self.c0[name][1] for name in c1}
        # CPU from schedstat (ns); user and system from the ticks, for their split.
        cpu = {name: c1[name][2] - self.c0[name][2] for name in c1}
        return {"elapsed": elapsed, "cpu": cpu, "user": user, "sys": system, "machine_busy": busy}


def machine_info() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for mod in ("aiohttp", "uvloop"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = "missing"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        **versions,
    }


def source_info(src: Path) -> str:
    """Which acemux is measured: commit (+ "modified" when acemux/ has local changes)."""
    if (src / "COMMIT").exists():  # a snapshot made with git archive
        return f"{src} (snapshot of {(src / 'COMMIT').read_text().strip()[:12]})"
    try:
        commit = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--", "acemux"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return str(src)
    return f"{src} (commit {commit}{', acemux/ modified' if dirty else ''})"


def print_machine(src: Path = ROOT) -> dict[str, str]:
    info = machine_info()
    info["acemux"] = source_info(Path(src))
    print(
        f"machine: {info['nproc']} x {info['cpu']}, Linux {info['kernel']}, Python {info['python']},"
        f" aiohttp {info['aiohttp']}, uvloop {info['uvloop']}\nacemux: {info['acemux']}"
    )
    return info


# -- processes --------------------------------------------------------------------------


def _child_setup(cpus: frozenset[int] | None = None) -> None:
    """Runs in each child before exec: own process group, dies with us, enough fds."""
    if cpus:
        os.sched_setaffinity(0, cpus)  # its threads, made later, inherit it
    os.setpgid(0, 0)  # Ctrl+C reaches the driver only; it stops the children in order
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    with contextlib.suppress(Exception):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Proc:
    """One child process, logging to a file, with its /proc figures at hand."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        pipes: bool = False,
        cpus: frozenset[int] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (open for the child's life)
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else self._log,
            stderr=self._log,
            env=env,
            cwd=cwd,
            preexec_fn=functools.partial(_child_setup, cpus),  # noqa: PLW1509 (no threads)
        )
        self.pid = self.popen.pid
        self._cpu_at_exit: float | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise BenchError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")

    def cpu_times(self) -> tuple[float, float]:
        try:
            return cpu_times(self.pid)
        except (OSError, ValueError):
            return 0.0, 0.0

    def cpu_seconds(self) -> float:
        return sum(self.cpu_times())

    def run_seconds(self) -> float:
        try:
            return run_seconds(self.pid)
        except (OSError, ValueError):
            return 0.0

    def rss_kib(self) -> int:
        try:
            return rss_kib(self.pid)
        except OSError:
            return 0

    def fd_count(self) -> int:
        try:
            return fd_count(self.pid)
        except OSError:
            return 0

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            self._log.flush()
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(f"  [{self.name}] {line}" for line in text[-lines:])
        return ""

    def stop(self, timeout: float = 4.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(2)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()


class Clients(Proc):
    """A load-client process (loadclient.py), driven by JSON lines on stdin/stdout."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_dir: Path,
        max_seconds: float,
        cpus: frozenset[int] | None = None,
    ) -> None:
        argv = [
            sys.executable,
            str(HERE / "loadclient.py"),
            "--max-seconds",
            f"{max_seconds:.0f}",
            *args,
        ]
        super().__init__(name, argv, log_dir, pipes=True, cpus=cpus)
        self._buf = b""

    def cmd(self, timeout: float = 30.0, **request: Any) -> dict[str, Any]:
        """Send one command and wait (bounded) for its one-line JSON answer."""
        self.check_alive()
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.popen.stdin.write(json.dumps(request).encode() + b"\n")
        self.popen.stdin.flush()
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{self.name}: no answer to {request} in {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                data = os.read(fd, 1 << 20)
                if not data:
                    raise BenchError(f"{self.name} exited:\n{self.log_tail()}")
                self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        answer = json.loads(line)
        if "error" in answer:
            raise BenchError(f"{self.name}: {answer['error']}")
        return answer

    def stop(self, timeout: float = 4.0) -> None:
        if self.alive() and self.popen.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self.popen.stdin.close()  # EOF on stdin: the client exits by itself
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(2)
        super().stop(timeout)


class Bench:
    """Owns a benchmark's child processes and log directory; stops them all on exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.src = Path(args.src).resolve()
        self.keep_logs = args.keep_logs
        self.log_dir = Path(tempfile.mkdtemp(prefix="acemux-bench-"))
        self.procs: list[Proc] = []
        self.failed = False
        self.spy_dir: Path | None = getattr(args, "py_spy", None)
        self.acemux_flags = [part for flag in args.acemux_flag for part in flag.split("=", 1)]
        self.spies: list[tuple[subprocess.Popen, Path, Proc]] = []
        self.server_cpus, self.client_cpus = _pinning(getattr(args, "pin", False))

    def __enter__(self) -> Self:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.failed = True
        self.stop_all()
        if exc_type is BenchError:
            print(f"benchmark failed: {exc}", file=sys.stderr)
        if self.keep_logs or self.failed:
            print(f"logs of the child processes: {self.log_dir}", file=sys.stderr)
        else:
            for path in self.log_dir.iterdir():
                path.unlink()
            self.log_dir.rmdir()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        self._finish_spies()

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)
        self._finish_spies()

    def _spy(self, proc: Proc) -> None:
        """py-spy on an acemux process until it exits (--py-spy DIR)."""
        if self.spy_dir is None:
            return
        self.spy_dir.mkdir(parents=True, exist_ok=True)
        out = self.spy_dir / f"{proc.name}-{proc.pid}.txt"
        cmd = [
            "py-spy",
            "record",
            "--pid",
            str(proc.pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ]
        try:
            spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as err:
            print(f"py-spy could not start ({err}); pip install py-spy", file=sys.stderr)
            self.spy_dir = None
            return
        self.spies.append((spy, out, proc))

    def _finish_spies(self) -> None:
        """Summarise the profiles of acemux processes that have exited."""
        from profile_summary import summarise

        for entry in list(self.spies):
            spy, out, proc = entry
            if proc.alive():
                continue
            try:
                spy.wait(15)  # py-spy writes its file once its target is gone
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
            self.spies.remove(entry)
            if out.exists():
                print(summarise(out), file=sys.stderr)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.src), *filter(None, [env.get("PYTHONPATH")])])
        env.pop("PYTHONASYNCIODEBUG", None)
        return env

    def spawn(self, name: str, argv: Sequence[str], **kw: Any) -> Proc:
        proc = Proc(name, argv, self.log_dir, **kw)
        self.procs.append(proc)
        return proc

    def _server(self, name: str, argv: Any, ready: Any, **kw: Any) -> tuple[Proc, str]:
        """Start a server on a free port: argv(port) -> its command, ready(url, proc) waits.

        Retried on another port if the chosen one was taken in the meantime.
        """
        for attempt in range(3):
            port = free_port()
            proc = self.spawn(name, argv(port), cpus=self.server_cpus, **kw)
            url = f"http://127.0.0.1:{port}"
            try:
                ready(url, proc)
                return proc, url
            except BenchError:
                if proc.alive() or "address already in use" not in proc.log_tail(50).lower():
                    raise
                self.stop(proc)
        raise BenchError(f"{name}: no free port after 3 attempts")

    def fake_engine(self, mbps: float, name: str = "engine") -> tuple[Proc, str]:
        """The fake engine; mbps 0 streams unpaced."""
        rate = f"{fake_rate(mbps, self.src):.6f}"
        return self._server(
            name,
            lambda port: [
                sys.executable,
                "-m",
                "acemux",
                "fake-engine",
                "--port",
                str(port),
                "--rate",
                rate,
                "--log-level",
                "WARNING",
            ],
            lambda url, proc: wait_http(url + "/webui/api/service?method=get_version", proc),
            env=self._env(),
            cwd=self.src,
        )

    def stamp_engine(
        self, mbps: float, interval_ms: float, name: str = "stampengine"
    ) -> tuple[Proc, str]:
        return self._server(
            name,
            lambda port: [
                sys.executable,
                str(HERE / "stampengine.py"),
                "--port",
                str(port),
                "--mbps",
                str(mbps),
                "--interval-ms",
                str(interval_ms),
            ],
            lambda url, proc: wait_http(url + "/webui/api/service?method=get_version", proc),
        )

    def acemux(self, engine_url: str, *flags: str, name: str = "acemux") -> tuple[Proc, str]:
        """`acemux serve` on a free port; extra settings as flags (`--grace-seconds`, `1`)."""
        proc, url = self._server(
            name,
            lambda port: [
                sys.executable,
                "-m",
                "acemux",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--engine",
                engine_url,
                "--log-level",
                "WARNING",
                *flags,
                *self.acemux_flags,
            ],
            lambda url, proc: wait_http(url + "/healthz", proc),
            env=self._env(),
            cwd=self.src,
        )
        self._spy(proc)
        return proc, url

    def baseline(
        self, engine_url: str, cid: str, *flags: str, name: str = "baseline"
    ) -> tuple[Proc, str]:
        return self._server(
            name,
            lambda port: [
                sys.executable,
                str(HERE / "baseline.py"),
                "--port",
                str(port),
                "--engine",
                engine_url,
                "--id",
                cid,
                *flags,
            ],
            lambda url, proc: wait_port(int(url.rsplit(":", 1)[1]), proc),
        )

    def clients(self, name: str, args: Sequence[str], max_seconds: float) -> Clients:
        proc = Clients(name, args, self.log_dir, max_seconds, cpus=self.client_cpus)
        self.procs.append(proc)
        return proc


def _pinning(pin: bool) -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """(server CPUs, client CPUs) for --pin: the first CPU, and the rest; None: unpinned."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return frozenset(cpus[:1]), frozenset(cpus[1:])


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_main(main: Any) -> None:
    """Run a benchmark's main(); exit 130 on Ctrl+C/SIGTERM, 1 when it could not run."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BenchError:
        sys.exit(1)


# -- HTTP and waiting ---------------------------------------------------------------------


def http_json(url: str, data: Any = None, timeout: float = 5.0) -> Any:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    if body:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_port(port: int, proc: Proc, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise BenchError(f"{proc.name} did not open port {port} in {timeout:g} s:\n{proc.log_tail()}")


def wait_http(url: str, proc: Proc, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        with contextlib.suppress(OSError, ValueError):
            http_json(url, timeout=1.0)
            return
        time.sleep(0.05)
    raise BenchError(f"{proc.name} did not answer {url} in {timeout:g} s:\n{proc.log_tail()}")


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# -- figures and output -------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes straight into BENCHMARKS.md)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        out.append("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
    return str(value)


def verdict(ok: bool, quick: bool = False) -> str:
    if quick:
        return "n/a (quick)"
    return "MET" if ok else "NOT MET"


def summary(name: str, text: str) -> None:
    print(f"SUMMARY {name}: {text}", flush=True)


def write_json(path: Path | None, data: Any) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")


@contextlib.contextmanager
def step(text: str) -> Iterator[None]:
    print(f"... {text}", file=sys.stderr, flush=True)
    yield
