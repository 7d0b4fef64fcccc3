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
# How the version endpoint answers: today's shape, 3.1.0-rc2's (no platform), or
# not at all (404: a 3.0 engine, or a proxy in front that does not forward it).
VERSION_MODES = ("current", "rc2", "missing")
# Bytes skipped at a misaligned connection's start: a third of a packet.
MISALIGN_BYTES = 57
# Inserted once by garbage_after_bytes: not a multiple of 188 and free of 0x47,
# so a reader has to hunt for the sync byte to realign.
GARBAGE = bytes(range(0x48, 0xF8)) * 2 + b"acemux-garbage"
# What getstream_garbage answers: neither UTF-8 nor JSON.
GARBAGE_ANSWER = b"\xff\xfe<html>\xc3(engine busy)\x80"


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


def _version_mode(value: Any) -> str:
    if value not in VERSION_MODES:
        raise ValueError(f"expected one of {VERSION_MODES}, got {value!r}")
    return value


def _id_set(value: Any) -> set[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"expected a list of ids, got {value!r}")
    return {str(v).lower() for v in value}


def _id_seconds(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected {{id: seconds}}, got {value!r}")
    return {str(k).lower(): _seconds(v) for k, v in value.items()}


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "drop_after_bytes": _optional_count,
    "stall_after_bytes": _optional_count,
    "stall_seconds": _seconds,
    "garbage_after_bytes": _optional_count,
    "getstream_error": _optional_text,
    "getstream_error_count": _optional_count,
    "prebuffer_seconds": _seconds,
    "unknown_ids": _id_set,
    "ac3_ids": _id_set,
    "rate": _optional_rate,
    "start_mode": _start_mode,
    "misalign": _flag,
    # Engines unlike the usual one (issue 13).
    "version_mode": _version_mode,
    "getstream_garbage": _flag,
    "getstream_seconds": _seconds,
    # per-id dead sources (channel failover); getstream errors per id: unknown_ids
    "silent_ids": _id_set,
    "stall_ids": _id_seconds,
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
    ac3_ids: set[str] = field(default_factory=set)  # ids/infohashes played with AC-3 audio
    rate: float | None = 1.0  # pacing, x real time; 0 or None: as fast as the reader reads
    start_mode: str = "live"  # join the channel's running timeline, or "start_of_file"
    misalign: bool = False  # start each connection MISALIGN_BYTES into a packet
    # Engines unlike the usual one. Dropping every connection after N bytes is
    # drop_after_bytes; restarting the content on each connection (VOD, or an
    # engine restarted) is start_mode "start_of_file".
    version_mode: str = "current"  # see VERSION_MODES
    getstream_garbage: bool = False  # getstream answers GARBAGE_ANSWER: not UTF-8, not JSON
    getstream_seconds: float = 0.0  # getstream answers after this long (a busy engine)
    # -- per-id dead sources, matched by content id or infohash (channel failover) --
    # Resolve, but playback sends nothing (open connections fall silent too) and
    # stat_url reports 0 peers.
    silent_ids: set[str] = field(default_factory=set)
    # {id: N}: each playback connection sends N seconds of stream, then nothing for good.
    stall_ids: dict[str, float] = field(default_factory=dict)
    starved: bool = False  # the whole engine P2P-starved: like silent_ids for every id

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
        data["ac3_ids"] = sorted(self.ac3_ids)
        data["silent_ids"] = sorted(self.silent_ids)
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

    def silent(self, *ids: str) -> bool:
        return any(i.lower() in self.silent_ids for i in ids)

    def stall_after(self, *ids: str) -> float | None:
        """Seconds a connection to one of these ids sends before it stalls for good."""
        found = [self.stall_ids[i.lower()] for i in ids if i.lower() in self.stall_ids]
        return min(found) if found else None
