"""Playback sessions: what getstream starts and stop (or a newer getstream) ends.

Like the real engine, one content has at most one session: asking again starts
a new one, and the old session's URLs answer 403 / "unknown playback session
id" from then on. Each playback connection registers with its session so that
ending the session closes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
ENDED_KEPT = 1024
STOP_REASON = "stop command"


def is_hex40(value: str) -> bool:
    return _HEX40.fullmatch(value) is not None


def infohash_of(content_id: str) -> str:
    """The infohash the fake engine reports for a content id (stable, not the id)."""
    return hashlib.sha1(content_id.lower().encode()).hexdigest()


class Closable(Protocol):
    def close(self, reason: str) -> None: ...


@dataclass(eq=False)
class Session:
    infohash: str
    content_id: str
    pid: str | None
    ready_at: float  # event-loop time when the prebuffer is full
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    playback_session_id: str = field(default_factory=lambda: secrets.token_hex(20))
    bytes_sent: int = 0
    connections: set[Closable] = field(default_factory=set)

    def close_connections(self, reason: str) -> None:
        for conn in list(self.connections):
            conn.close(reason)


class Sessions:
    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}
        self._by_infohash: dict[str, Session] = {}
        self._live_origins: dict[str, float] = {}
        # Sessions ended by something else than a stop (a newer session, the
        # engine), by token, the latest ENDED_KEPT: the stop a proxy still owes
        # such a session is counted against it.
        self._unstopped: OrderedDict[str, str] = OrderedDict()

    def start(
        self, infohash: str, content_id: str, pid: str | None, prebuffer_seconds: float
    ) -> Session:
        now = asyncio.get_running_loop().time()
        old = self._by_infohash.get(infohash)
        if old is not None:
            self.end(old, "replaced by a new session")
        session = Session(infohash, content_id, pid, ready_at=now + prebuffer_seconds)
        self._by_token[session.token] = session
        self._by_infohash[infohash] = session
        self._live_origins.setdefault(infohash, now)
        log.info("session %s started for %s (pid %s)", session.playback_session_id, content_id, pid)
        return session

    def get(self, infohash: str, token: str) -> Session | None:
        session = self._by_token.get(token)
        if session is None or session.infohash != infohash.lower():
            return None
        return session

    def take_unstopped(self, token: str) -> str | None:
        """The playback_session_id of a session that ended without a stop, once."""
        return self._unstopped.pop(token, None)

    def current(self, infohash: str) -> Session | None:
        """The live session of an infohash, if any."""
        return self._by_infohash.get(infohash)

    def live_origin(self, infohash: str) -> float:
        """Event-loop time at which this channel's live timeline began."""
        return self._live_origins[infohash]

    def end(self, session: Session, reason: str) -> None:
        if self._by_token.pop(session.token, None) is None:
            return
        if self._by_infohash.get(session.infohash) is session:
            del self._by_infohash[session.infohash]
        if reason != STOP_REASON:
            self._unstopped[session.token] = session.playback_session_id
            if len(self._unstopped) > ENDED_KEPT:
                self._unstopped.popitem(last=False)
        log.info("session %s ended: %s", session.playback_session_id, reason)
        session.close_connections(reason)

    def end_all(self, reason: str) -> None:
        for session in list(self._by_token.values()):
            self.end(session, reason)
