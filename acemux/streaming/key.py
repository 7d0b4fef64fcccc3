"""ChannelKey: what makes two requests the same channel, validated from a request's query."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from acemux.errors import BadRequest

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")

# Query parameters acemux owns or consumes; everything else goes to the engine.
_NOT_FORWARDED = frozenset({"id", "content_id", "infohash", "pid", "format", "token"})
MAX_PARAM_LENGTH = 256


@dataclass(frozen=True, slots=True)
class ChannelKey:
    kind: str  # "id" or "infohash", as the engine names the selector
    value: str  # 40 lowercase hex characters
    extra: tuple[tuple[str, str], ...] = ()  # passed through to the engine, sorted

    @property
    def name(self) -> str:
        """A stable text form: the content id alone, or with the extra parameters."""
        if not self.extra:
            return self.value
        return self.value + "?" + "&".join(f"{k}={v}" for k, v in self.extra)

    def selector(self) -> dict[str, str]:
        return {self.kind: self.value}

    def extra_params(self) -> dict[str, str]:
        return dict(self.extra)

    @classmethod
    def from_query(cls, query: Mapping[str, str], path_id: str | None = None) -> "ChannelKey":
        ids = {name: query.get(name) for name in ("id", "content_id", "infohash")}
        if path_id is not None:
            ids["path"] = path_id
        given = {name: value for name, value in ids.items() if value is not None}
        if not given:
            raise BadRequest("missing content id: pass id=<40 hex> or infohash=<40 hex>")
        if len(given) > 1:
            raise BadRequest("give exactly one of id, content_id, infohash or the path id")
        name, value = next(iter(given.items()))
        if not _HEX40.fullmatch(value):
            raise BadRequest(f"{'id' if name == 'path' else name} must be 40 hexadecimal characters")
        kind = "infohash" if name == "infohash" else "id"
        extra = []
        for param, param_value in query.items():
            if param in _NOT_FORWARDED:
                continue
            if len(param) > MAX_PARAM_LENGTH or len(param_value) > MAX_PARAM_LENGTH:
                raise BadRequest(f"query parameter {param[:32]!r} is too long")
            extra.append((param, param_value))
        return cls(kind, value.lower(), tuple(sorted(extra)))
