"""Stopping background tasks the same way everywhere."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(*tasks: asyncio.Task | None) -> None:
    """Cancel the tasks and wait until they have finished.

    Their own cancellation (or any error) is absorbed; a cancellation of the
    caller still propagates, as gather() raises it in the awaiting task.
    """
    pending = [task for task in tasks if task is not None]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
