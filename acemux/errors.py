"""acemux's one exception tree. Each error knows its HTTP status and JSON code;
the web layer turns any of them into `{"error": {"code", "message"}}` in one place.
"""

from __future__ import annotations


class AcemuxError(Exception):
    status = 500
    code = "internal_error"
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def clone(self) -> "AcemuxError":
        """The same error, to raise again in another task (its traceback stays its own)."""
        copy = type(self)(self.message)
        copy.retry_after = self.retry_after
        return copy


class BadRequest(AcemuxError):
    status = 400
    code = "bad_request"


class Unauthorized(AcemuxError):
    """A token is configured and the request did not carry it."""

    status = 401
    code = "unauthorized"


class NotFound(AcemuxError):
    status = 404
    code = "not_found"


class Conflict(AcemuxError):
    """The request cannot be done in the resource's present state (e.g. nothing to reconnect)."""

    status = 409
    code = "conflict"


class EngineError(AcemuxError):
    """The engine answered, with an error of its own (e.g. failed to load content)."""

    status = 502
    code = "engine_error"


class EngineUnavailable(AcemuxError):
    """The engine could not be reached."""

    status = 503
    code = "engine_unavailable"
    retry_after = 5


class EngineTimeout(AcemuxError):
    status = 504
    code = "engine_timeout"


class LimitReached(AcemuxError):
    status = 503
    code = "limit_reached"
    retry_after = 10


class ProvisionFailed(AcemuxError):
    """acemux could not start an engine of its own (provider, image, command or ports)."""

    status = 503
    code = "provision_failed"
    retry_after = 10


class ShuttingDown(AcemuxError):
    status = 503
    code = "shutting_down"
    retry_after = 5


class ProfileError(AcemuxError):
    """A profile's ffmpeg cannot run or ends at once (missing binary, broken recipe)."""

    status = 502
    code = "profile_error"
