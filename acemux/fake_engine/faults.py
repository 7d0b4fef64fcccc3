"""Faults and modes a test can switch on the fake engine at run time.

Set them as attributes in Python or as JSON over ``POST /fake/faults``; both go
through the same validation. Byte-triggered faults apply to every playback
connection opened afterwards, counting that connection's body bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

log = logging.getLogger(__name__)

START_MODES = ("start_of_file", "live")
# Bytes skipped at a misaligned connection's start: a third of a packet.
MISALIGN_BYTES = 57
# Inserted once by garbage_after_bytes: not a multiple of 188 and free of 0x47,
# so a reader has to hunt for the sync byte to realign.
GARBAGE = bytes(range(0x48, 0xF8)) * 2 + b"acemux-garbage"


def _optional_count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count >= 0 or null, got {value!r}")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected seconds >= 0, got {value!r}")
    return float(value)


def _optional_rate(value: Any) -> float | None:
    return None if value is None else _seconds(value)


def _optional_text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a string or null, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _start_mode(value: Any) -> str:
    if value not in START_MODES:
        raise ValueError(f"expected one of {START_MODES}, got {value!r}")
    return value


def _id_set(value: Any) -> set[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"expected a list of ids, got {value!r}")
    return {str(v).lower() for v in value}


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "drop_after_bytes": _optional_count,
    "stall_after_bytes": _optional_count,
    "stall_seconds": _seconds,
    "garbage_after_bytes": _optional_count,
    "getstream_error": _optional_text,
    "getstream_error_count": _optional_count,
    "prebuffer_seconds": _seconds,
    "unknown_ids": _id_set,
    "rate": _optional_rate,
    "start_mode": _start_mode,
    "misalign": _flag,
    "starved": _flag,
}


@dataclass
class Faults:
    drop_after_bytes: int | None = None  # end each playback response after N body bytes
    stall_after_bytes: int | None = None  # after N bytes send nothing for stall_seconds
    stall_seconds: float = 0.0
    garbage_after_bytes: int | None = None  # insert GARBAGE once, right after N body bytes
    getstream_error: str | None = None  # getstream answers {"response": null, "error": this}
    getstream_error_count: int | None = None  # only the next K getstreams fail; None: all
    prebuffer_seconds: float = 0.0  # playback withholds headers until getstream + this
    unknown_ids: set[str] = field(default_factory=set)  # ids/infohashes that fail to load
    rate: float | None = 1.0  # pacing, x real time; 0 or None: as fast as the reader reads
    start_mode: str = "live"  # join the channel's running timeline, or "start_of_file"
    misalign: bool = False  # start each connection MISALIGN_BYTES into a packet
    starved: bool = False  # P2P-starved: getstream answers, no stream data, stat 0 peers/0 speed

    def __setattr__(self, name: str, value: Any) -> None:
        check = _CHECKS.get(name)
        if check is None:
            raise AttributeError(f"unknown fault {name!r}")
        super().__setattr__(name, check(value))

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply several faults at once; nothing changes if one is invalid."""
        checked = {}
        for name, value in changes.items():
            if name not in _CHECKS:
                raise ValueError(f"unknown fault {name!r}")
            checked[name] = _CHECKS[name](value)
        for name, value in checked.items():
            setattr(self, name, value)
        log.info("faults changed: %s", checked)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["unknown_ids"] = sorted(self.unknown_ids)
        return data

    def take_getstream_error(self) -> str | None:
        """The error this getstream must answer, counting down getstream_error_count."""
        error, count = self.getstream_error, self.getstream_error_count
        if error is None or count is None:
            return error
        if count > 1:
            self.getstream_error_count = count - 1
        else:  # the last planned failure (or none left): recover afterwards
            self.getstream_error = None
            self.getstream_error_count = None
        return error if count > 0 else None
