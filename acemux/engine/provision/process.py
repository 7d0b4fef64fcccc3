"""The process provider: each engine is a child process running the configured command.

`{port}` in the command is replaced by the engine's port. Children are
supervised here: each gets its own process group (stopped as a whole: SIGTERM,
then SIGKILL) and is told by the kernel to end when acemux does, even when
acemux is killed outright. So there is nothing to adopt after a restart: the
old children are gone with the old acemux.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
import os
import shlex
import shutil
import signal
import time

from acemux.engine.provision.provider import EngineHandle, EngineStatus, Provider
from acemux.errors import ProvisionFailed
from acemux.tasks import cancel_and_wait

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
OUTPUT_LINES_KEPT = 20
OUTPUT_DRAIN_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when acemux dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _Child:
    def __init__(self, handle: EngineHandle, proc: asyncio.subprocess.Process) -> None:
        self.handle = handle
        self.proc = proc
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
        # Drained all along, or a chatty engine would block on a full pipe.
        self.reader = asyncio.create_task(self._read_output(), name=f"engine-output:{proc.pid}")

    async def _read_output(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace").rstrip())


class ProcessProvider(Provider):
    name = "process"

    def __init__(self, command: str) -> None:
        self._command = command
        self._children: dict[str, _Child] = {}

    def argv(self, port: int) -> list[str]:
        return shlex.split(self._command.replace("{port}", str(port)))

    async def start(self, port: int) -> EngineHandle:
        argv = self.argv(port)
        if not argv or shutil.which(argv[0]) is None:
            raise ProvisionFailed(f"engine command not found: {argv[0] if argv else '(empty)'}")
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own group: Ctrl+C reaches acemux only
                preexec_fn=_end_with_parent,
            )
        except OSError as err:
            raise ProvisionFailed(f"engine command {argv[0]} could not start: {err}") from err
        handle = EngineHandle(self.name, str(proc.pid), port, time.time())
        self._children[handle.id] = _Child(handle, proc)
        log.info("engine process %s started on port %d: %s", proc.pid, port, shlex.join(argv))
        return handle

    async def stop(self, handle: EngineHandle) -> None:
        child = self._children.pop(handle.id, None)
        if child is None:
            return
        proc = child.proc
        if proc.returncode is None:
            _signal_group(proc.pid, signal.SIGTERM)
            _signal_group(proc.pid, signal.SIGCONT)  # a frozen engine must see it too
            try:
                async with asyncio.timeout(STOP_GRACE_SECONDS):
                    await proc.wait()
            except TimeoutError:
                log.warning("engine process %s ignored SIGTERM; killing it", proc.pid)
                _signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # whatever it left behind in its group
        await cancel_and_wait(child.reader)
        log.info("engine process %s stopped (exit code %s)", proc.pid, proc.returncode)

    async def list_owned(self) -> list[EngineHandle]:
        return [child.handle for child in self._children.values()]

    async def inspect(self, handle: EngineHandle) -> EngineStatus:
        child = self._children.get(handle.id)
        if child is None:
            return EngineStatus(False, "not a child of this acemux")
        code = child.proc.returncode
        if code is None:
            return EngineStatus(True)
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return EngineStatus(False, f"engine process exited ({how})")

    async def last_words(self, handle: EngineHandle) -> str:
        child = self._children.get(handle.id)
        if child is None:
            return ""
        if child.proc.returncode is not None:
            # Exited: its output ends soon, but may still be in the pipe.
            await asyncio.wait({child.reader}, timeout=OUTPUT_DRAIN_SECONDS)
        return " | ".join(child.output)[-500:]

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(c.handle) for c in list(self._children.values())))


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
