"""The optional access token: every request needs it, except the dashboard's own files.

Players pass it as `?token=`, scripts and the dashboard as `Authorization:
Bearer`. Both sides are hashed before comparing, so the comparison takes the
same time whatever the token's length or content.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web
from aiohttp.typedefs import Middleware

from acemux.config import Settings
from acemux.errors import Unauthorized

# The page itself holds no data; it asks for the token and sends it with every API call.
DASHBOARD_PATHS = frozenset({"/"})
STATIC_PREFIX = "/static/"
MONITORING_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


def token_middlewares(settings: Settings) -> list[Middleware]:
    """The token check, or nothing at all when no token is configured."""
    token = settings.token.get_secret_value()
    if not token:
        return []
    expected = _digest(token)
    open_paths = DASHBOARD_PATHS | (MONITORING_PATHS if settings.metrics_open else frozenset())

    @web.middleware
    async def require_token(request: web.Request, handler) -> web.StreamResponse:
        path = request.path
        if path in open_paths or path.startswith(STATIC_PREFIX):
            return await handler(request)
        if not any(hmac.compare_digest(_digest(given), expected) for given in _offered(request)):
            raise Unauthorized("a valid token is required: ?token=… or Authorization: Bearer …")
        return await handler(request)

    return [require_token]


def _offered(request: web.Request) -> list[str]:
    offered = request.query.getall("token", [])
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        offered.append(credentials.strip())
    return offered


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
