"""Every failure leaves acemux as `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from acemux.errors import AcemuxError

log = logging.getLogger(__name__)

_PATH_TOKEN = re.compile(r"^/t/[^/]*/")  # tuner and guide paths may carry a token


def error_response(
    status: int, code: str, message: str, retry_after: int | None = None
) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def _code_for(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "error"


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AcemuxError as err:
        return error_response(err.status, err.code, err.message, err.retry_after)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _code_for(exc.reason), exc.reason)
    except Exception:
        # Log the cause for the operator; the client only learns that it failed.
        path = _PATH_TOKEN.sub("/t/…/", request.path)  # tokens never go to the logs
        log.exception("unexpected error serving %s %s", request.method, path)
        return error_response(500, "internal_error", "internal error")
