"""One running ffmpeg of a profile: fed from the raw channel like a viewer, read as an upstream.

Its stdin pipe is a Viewer of the raw channel: the raw channel's fan-out
writes to it like to any viewer's socket (started at a keyframe, served from
the ring when it lags, never holding the raw channel back). Its stdout is what
the profile's ChannelSession reads, as it reads an engine's response.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import TYPE_CHECKING

from acemux.errors import ProfileError
from acemux.profiles.recipes import Profile
from acemux.streaming.viewer import Viewer
from acemux.tasks import cancel_and_wait

if TYPE_CHECKING:
    from acemux.streaming.session import ChannelSession

log = logging.getLogger(__name__)

STDERR_LINES = 6  # the last lines ffmpeg wrote, for error messages
STDERR_LINE_CHARS = 300
FIRST_READ = 64 * 1024
STOP_TIMEOUT = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class _Output:
    """ffmpeg's stdout, with the bytes read while waiting for its first output put back."""

    def __init__(self, stdout: asyncio.StreamReader) -> None:
        self._stdout = stdout
        self.first = b""

    async def read(self, size: int) -> bytes:
        if self.first:
            data, self.first = self.first, b""
            return data
        return await self._stdout.read(size)


class FfmpegProcess:
    def __init__(self, proc: asyncio.subprocess.Process, profile: Profile) -> None:
        self._proc = proc
        self.profile = profile
        self.pid = proc.pid
        assert proc.stdout is not None and proc.stderr is not None
        self.content = _Output(proc.stdout)  # read(n), as the session reads an engine's body
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._stderr_task = asyncio.create_task(
            self._read_stderr(), name=f"ffmpeg-stderr:{self.pid}"
        )
        self._feeder: asyncio.Task | None = None
        self.viewer: Viewer | None = None
        self.cpu_seconds = 0.0  # user + system, sampled (see sample_cpu)

    @classmethod
    async def spawn(cls, profile: Profile, ffmpeg: str) -> "FfmpegProcess":
        try:
            proc = await asyncio.create_subprocess_exec(
                *profile.command(ffmpeg),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as err:  # not found, not executable
            raise ProfileError(
                f"profile {profile.name}: cannot run ffmpeg {ffmpeg!r} ({err.strerror}); "
                "install ffmpeg or point --ffmpeg at it"
            ) from None
        log.info("profile %s: ffmpeg started, pid %d", profile.name, proc.pid)
        return cls(proc, profile)

    def feed_from(self, raw: "ChannelSession", high_water: int) -> None:
        """Make ffmpeg's stdin a viewer of the raw channel."""
        stdin = self._proc.stdin
        assert stdin is not None
        transport = stdin.transport
        transport.set_write_buffer_limits(high=high_water)  # type: ignore[attr-defined]
        name = self.profile.name
        self.viewer = Viewer(
            transport,  # type: ignore[arg-type]
            address=f"profile {name}",
            user_agent=f"ffmpeg, pid {self.pid} (acemux profile {name})",
        )
        self._feeder = asyncio.create_task(self._feed(raw, stdin), name=f"ffmpeg-feed:{self.pid}")

    async def _feed(self, raw: "ChannelSession", stdin: asyncio.StreamWriter) -> None:
        assert self.viewer is not None
        try:
            await raw.serve(self.viewer, stdin.drain)
        except Exception:  # its end is awaited quietly in stop(): say why here
            log.exception("profile %s: feeding ffmpeg %d failed", self.profile.name, self.pid)
        finally:
            # The raw channel ended (or ffmpeg did): end ffmpeg's input, so it ends too.
            stdin.close()

    async def wait_first_output(self, timeout: float) -> None:
        """Return once ffmpeg wrote something; raise ProfileError if it ends or stays silent."""
        try:
            async with asyncio.timeout(timeout):
                first = await self._proc.stdout.read(FIRST_READ)  # type: ignore[union-attr]
        except TimeoutError:
            raise ProfileError(
                f"profile {self.profile.name}: ffmpeg gave no output within {timeout:g} s"
            ) from None
        if not first:  # its output ended: it is exiting, with its reason on stderr
            await asyncio.wait({self._stderr_task}, timeout=STOP_TIMEOUT)
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await self._proc.wait()
            except TimeoutError:
                pass  # still running without output: stop() kills it
            raise ProfileError(f"profile {self.profile.name}: {self.exit_description()}")
        self.content.first = first

    def exit_description(self) -> str:
        said = " / ".join(self.stderr) or "nothing on stderr"
        return f"ffmpeg ended (exit {self._proc.returncode}): {said}"

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def sample_cpu(self) -> float:
        """CPU seconds used so far, read from /proc while the process is there."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # reaped already, or no /proc: keep the last sample
            return self.cpu_seconds
        self.cpu_seconds = max(self.cpu_seconds, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
        return self.cpu_seconds

    def close(self) -> None:
        """Stop feeding and kill ffmpeg; what it wrote so far may still be read."""
        self.sample_cpu()
        if self.viewer is not None:
            self.viewer.end("profile process stopped")
        if self._proc.returncode is None:
            try:
                self._proc.kill()
            except ProcessLookupError:
                pass

    async def stop(self) -> None:
        """close(), then wait for the process and its tasks (bounded)."""
        self.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self._proc.wait()
        except TimeoutError:
            log.warning("profile %s: ffmpeg %d did not exit", self.profile.name, self.pid)
        await asyncio.wait({self._stderr_task}, timeout=1.0)  # its last words
        await cancel_and_wait(self._feeder, self._stderr_task)

    async def _read_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        pending = b""
        while chunk := await stderr.read(4096):
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-STDERR_LINE_CHARS:]  # a line without end stays bounded
            for line in lines:
                self._note_stderr(line)
        self._note_stderr(pending)

    def _note_stderr(self, line: bytes) -> None:
        text = line.decode(errors="replace").strip()[:STDERR_LINE_CHARS]
        if text:  # kept for the exit description; a corrupt input can make many
            self.stderr.append(text)
            log.debug("profile %s: ffmpeg %d: %s", self.profile.name, self.pid, text)
