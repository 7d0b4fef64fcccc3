"""ChannelKey: what makes two requests the same channel, validated from a request's query."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping

from acemux.errors import BadRequest

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
RAW_PROFILE = "copy"  # the channel's own stream: no profile process

# Query parameters acemux owns or consumes; everything else goes to the engine.
_NOT_FORWARDED = frozenset({"id", "content_id", "infohash", "pid", "format", "token", "profile"})
MAX_PARAM_LENGTH = 256


@dataclass(frozen=True, slots=True)
class ChannelKey:
    kind: str  # "id" or "infohash", as the engine names the selector
    value: str  # 40 lowercase hex characters
    extra: tuple[tuple[str, str], ...] = ()  # passed through to the engine, sorted
    profile: str = ""  # an ffmpeg profile over the raw channel (acemux/profiles); "": none

    @property
    def name(self) -> str:
        """A stable text form: the content id alone, or with the extra parameters and profile."""
        params = [*self.extra, ("profile", self.profile)] if self.profile else self.extra
        if not params:
            return self.value
        return self.value + "?" + "&".join(f"{k}={v}" for k, v in params)

    @property
    def raw(self) -> "ChannelKey":
        """The channel a profile is made from: the same key without the profile."""
        return replace(self, profile="") if self.profile else self

    def with_profile(self, profile: str) -> "ChannelKey":
        return replace(self, profile="" if profile == RAW_PROFILE else profile)

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
        profile = profile_asked(query)
        extra = []
        for param, param_value in query.items():
            if param in _NOT_FORWARDED:
                continue
            if len(param) > MAX_PARAM_LENGTH or len(param_value) > MAX_PARAM_LENGTH:
                raise BadRequest(f"query parameter {param[:32]!r} is too long")
            extra.append((param, param_value))
        key = cls(kind, value.lower(), tuple(sorted(extra)))
        return key.with_profile(profile) if profile else key


def profile_asked(query: Mapping[str, str]) -> str:
    """The request's `?profile=` ("" when none), checked for form (not for existence)."""
    profile = query.get("profile", "")
    if profile and not PROFILE_NAME.fullmatch(profile):
        raise BadRequest("profile must be a profile name: lowercase letters, digits, - and _")
    return profile
