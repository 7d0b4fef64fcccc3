"""TaskSupervisor: a channel's background tasks, and what happens when one of them raises.

The reader, heartbeat, stats and close tasks of a channel are started here.
Any exception escaping one of them (not only the engine and network errors the
reader expects) is logged once with its traceback, counted, and handed to the
channel's failure handler (told whether it is the first), which ends the
channel cleanly. Without it a task
that dies takes its channel's liveness with it and nobody notices.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Callable, Coroutine

from acemux.logs import ids
from acemux.tasks import cancel_and_wait

log = logging.getLogger(__name__)

ROLES = ("reader", "heartbeat", "stats", "close")


class TaskSupervisor:
    def __init__(self, name: str, on_failure: Callable[[str, BaseException, bool], None]) -> None:
        self._name = name
        self._on_failure = on_failure
        self._tasks: dict[str, asyncio.Task] = {}
        self.failed: tuple[str, BaseException] | None = None  # the first failure

    def spawn(self, role: str, coro: Coroutine) -> asyncio.Task:
        task = asyncio.create_task(coro, name=f"{role}:{self._name}")
        self._tasks[role] = task
        task.add_done_callback(partial(self._done, role))
        return task

    def get(self, role: str) -> asyncio.Task | None:
        return self._tasks.get(role)

    async def cancel(self, *roles: str) -> None:
        """Cancel these tasks (never the calling one) and wait for them to finish."""
        current = asyncio.current_task()
        await cancel_and_wait(
            *(t for r in roles if (t := self._tasks.get(r)) is not None and t is not current)
        )

    def _done(self, role: str, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        err = task.exception()
        first = self.failed is None
        if first:
            self.failed = (role, err)
            log.error(
                "channel %s: %s task failed, ending the channel",
                self._name,
                role,
                exc_info=err,
                extra=ids(self._name),
            )
        else:  # the channel is ending already: a consequence, not news
            log.debug("channel %s: %s task failed too: %r", self._name, role, err)
        self._on_failure(role, err, first)
