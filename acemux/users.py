"""Named users: each with a token (stored hashed), an optional stream limit and playlists.

Users come from a TOML file (`users_file`), reloaded on SIGHUP:

    [users.alice]
    token_sha256 = "<sha256 hex of the token>"   # acemux hash-token <token>
    admin = true                                 # may stop, drop and reconnect
    max_streams = 2                              # streams at once (none: no limit)
    playlists = ["sports"]                       # playlists alice sees (none: all)

A user's streams are their TS viewers plus the HLS channels they fetched a
playlist of within `hls_idle_seconds` (HLS players hold no connection).

`ACEMUX_TOKEN` stays the single-user shortcut: one admin user named "admin"
with no limits. Every token check compares digests in constant time and looks
at every user, so neither the time nor the order tells which user is near.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import tomllib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from acemux.config import Settings
from acemux.errors import AcemuxError

log = logging.getLogger(__name__)

TOKEN_USER = "admin"  # the user ACEMUX_TOKEN stands for
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_KEYS = {"token_sha256", "admin", "max_streams", "playlists"}


class StreamLimitReached(AcemuxError):
    status = 429
    code = "stream_limit_reached"
    retry_after = 10


class Forbidden(AcemuxError):
    status = 403
    code = "forbidden"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    token_digest: bytes
    admin: bool = False
    max_streams: int | None = None
    playlists: frozenset[str] | None = None  # None: every playlist

    def may_see(self, playlist: str) -> bool:
        return self.playlists is None or playlist in self.playlists


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hash_token(token: str) -> str:
    """What users_file stores for a token."""
    return token_digest(token).hex()


class Users:
    """The configured users, who is streaming how much, and the token check."""

    def __init__(self, settings: Settings) -> None:
        self._file = settings.users_file
        self._token = settings.token.get_secret_value()
        self._users = self._load()  # a broken file at start is a configuration error
        self._streams: Counter[str] = Counter()  # TS streams open, per user
        self._hls: dict[str, dict[str, float]] = {}  # per user: HLS channel -> watched until
        self._hls_idle = settings.hls_idle_seconds
        self._clock = time.monotonic

    @property
    def enabled(self) -> bool:
        """Whether requests need a token at all."""
        return bool(self._token or self._file)

    def reload(self) -> bool:
        """Read the file again; a broken file keeps the users in force."""
        try:
            self._users = self._load()
        except ValueError as err:
            log.error("users file %s not reloaded: %s", self._file, err)
            return False
        log.info("users file %s reloaded: %d users", self._file, len(self._users))
        return True

    def authenticate(self, offered: list[str]) -> tuple[User, str] | None:
        """The user one of the offered tokens belongs to, and that token."""
        found: tuple[User, str] | None = None
        for given in offered:
            digest = token_digest(given)
            for user in self._users:
                if hmac.compare_digest(digest, user.token_digest) and found is None:
                    found = (user, given)
        return found

    @contextmanager
    def stream(self, user: User) -> Iterator[None]:
        """Hold one of the user's streams for the body; over the limit: 429."""
        self._check_room(user)
        self._streams[user.name] += 1
        try:
            yield
        finally:
            self._streams[user.name] -= 1

    def watch_hls(self, user: User, channel: str) -> None:
        """An HLS playlist request: one stream until no request came for the idle time.

        A channel the user is already watching costs nothing more; a new one
        over the limit is a 429, like a TS stream.
        """
        now = self._clock()
        watched = self._hls.setdefault(user.name, {})
        for name in [n for n, until in watched.items() if until <= now]:
            del watched[name]
        if channel not in watched:
            self._check_room(user)
        watched[channel] = now + self._hls_idle

    def streams(self, name: str) -> int:
        """TS streams open and HLS channels watched."""
        now = self._clock()
        watched = self._hls.get(name, {})
        return self._streams[name] + sum(1 for until in watched.values() if until > now)

    def _check_room(self, user: User) -> None:
        if user.max_streams is not None and self.streams(user.name) >= user.max_streams:
            raise StreamLimitReached(
                f"user {user.name} is already watching {user.max_streams} "
                f"stream{'s' if user.max_streams != 1 else ''} (the limit); stop one first"
            )

    def _load(self) -> list[User]:
        users = [User(TOKEN_USER, token_digest(self._token), admin=True)] if self._token else []
        if self._file:
            users += read_users_file(Path(self._file).expanduser())
        if len({u.name for u in users}) != len(users):
            raise ValueError("a user name is used twice")
        if len({u.token_digest for u in users}) != len(users):
            raise ValueError("two users have the same token")
        return users


def read_users_file(path: Path) -> list[User]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from err
    table = data.get("users", {})
    if not isinstance(table, dict) or set(data) - {"users"}:
        raise ValueError("the file holds one [users.<name>] table per user, nothing else")
    return [_user(name, fields) for name, fields in table.items()]


def _user(name: str, fields: object) -> User:
    where = f"user {name!r}"
    if not _NAME.fullmatch(name) or not isinstance(fields, dict):
        raise ValueError(f"{where}: names are letters, digits and ._@- with a table of fields")
    if unknown := set(fields) - _KEYS:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    digest = str(fields.get("token_sha256", "")).lower()
    if not _HEX64.fullmatch(digest):
        raise ValueError(f"{where}: token_sha256 must be 64 hex digits (acemux hash-token)")
    admin = fields.get("admin", False)
    limit = fields.get("max_streams")
    playlists = fields.get("playlists")
    if not isinstance(admin, bool):
        raise ValueError(f"{where}: admin must be true or false")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"{where}: max_streams must be a whole number >= 0")
    if playlists is not None and not (
        isinstance(playlists, list) and all(isinstance(p, str) for p in playlists)
    ):
        raise ValueError(f"{where}: playlists must be a list of playlist names")
    return User(
        name,
        bytes.fromhex(digest),
        admin,
        limit,
        frozenset(playlists) if playlists is not None else None,
    )
