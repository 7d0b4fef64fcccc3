"""Logging set-up: one line per event, as text for people or JSON for machines."""

from __future__ import annotations

import json
import logging
import time

# Identifiers a log call may attach with `extra=ids(...)`; JSON lines carry them as fields.
ID_FIELDS = ("channel", "viewer")


def ids(channel: str, viewer: int | None = None) -> dict:
    """`extra=` for a log call about a channel (and one of its viewers)."""
    return {"channel": channel} if viewer is None else {"channel": channel, "viewer": viewer}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ID_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
