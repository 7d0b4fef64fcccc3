"""CORS: web pages on other origins (hls.js, browser players) may read what acemux serves.

Every answer to a read (GET, HEAD), errors included, carries
Access-Control-Allow-Origin: `*` by default; with `cors_origins` restricted,
the request's Origin when it is one of them, and `Vary: Origin` always so
caches keep the answers apart. Changing requests (DELETE, POST) get none and
preflights allow neither: pages elsewhere cannot read their answers, nor send
a DELETE.

An OPTIONS on a route that has a GET is a preflight and is answered here, ahead
of the token check: browsers send no credentials on a preflight. The real
request that follows still needs the token.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from acemux.config import Settings
from acemux.web.keys import SETTINGS

ALLOW_METHODS = "GET, HEAD, OPTIONS"
# Range for players that seek or probe; Authorization for the token as Bearer.
ALLOW_HEADERS = ("Range", "Authorization")
EXPOSE_HEADERS = "Content-Length, Retry-After"
MAX_AGE = "7200"  # seconds; Chromium caps it there
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_REQUESTED_HEADERS = 32
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")


class CorsPolicy:
    def __init__(self, origins: list[str]) -> None:
        self.any_origin = "*" in origins
        self._origins = frozenset(origins)

    def allowed_origin(self, origin: str | None) -> str | None:
        """What Access-Control-Allow-Origin says to this Origin, or None for nothing."""
        if self.any_origin:
            return "*"
        if origin and origin.rstrip("/").lower() in self._origins:
            return origin
        return None

    def add_headers(self, request: web.Request, headers: CIMultiDict[str]) -> None:
        if not self.any_origin:
            _add_vary(headers, "Origin")
        allowed = self.allowed_origin(request.headers.get("Origin"))
        if allowed is not None:
            headers["Access-Control-Allow-Origin"] = allowed
            headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS


def middlewares(settings: Settings) -> list[Middleware]:
    """The preflight answer, to run before the token check; nothing when CORS is off."""
    if not settings.cors_origin_list:
        return []
    policy = CorsPolicy(settings.cors_origin_list)

    @web.middleware
    async def preflight(request: web.Request, handler) -> web.StreamResponse:
        methods = _get_route_methods(request) if request.method == "OPTIONS" else None
        if methods is None:
            return await handler(request)
        headers = {"Allow": ", ".join(sorted(methods | {"OPTIONS"}))}
        if policy.allowed_origin(request.headers.get("Origin")) is not None:
            headers.update(
                {
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": _allow_headers(request),
                    "Access-Control-Max-Age": MAX_AGE,
                    "Vary": "Access-Control-Request-Headers",
                }
            )
            # Chromium asks before a public page may reach a private address.
            if request.headers.get("Access-Control-Request-Private-Network") == "true":
                headers["Access-Control-Allow-Private-Network"] = "true"
        return web.Response(status=204, headers=headers)

    return [preflight]


def setup(app: web.Application) -> None:
    """Allow-Origin on every read's answer, stream or error alike; needs SETTINGS set."""
    origins = app[SETTINGS].cors_origin_list
    if not origins:
        return
    policy = CorsPolicy(origins)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.method in READ_METHODS:
            policy.add_headers(request, response.headers)

    app.on_response_prepare.append(add_headers)


def _get_route_methods(request: web.Request) -> set[str] | None:
    """The methods of the route an OPTIONS names, when that route has a GET."""
    refused = request.match_info.http_exception
    if isinstance(refused, web.HTTPMethodNotAllowed) and "GET" in refused.allowed_methods:
        return set(refused.allowed_methods)
    return None


def _allow_headers(request: web.Request) -> str:
    """Range and Authorization, plus the headers the preflight asks for (as names only)."""
    names = list(ALLOW_HEADERS)
    asked = request.headers.get("Access-Control-Request-Headers", "").split(",")
    for name in asked[:MAX_REQUESTED_HEADERS]:
        name = name.strip()
        if _HEADER_NAME.fullmatch(name) and name.lower() not in (n.lower() for n in names):
            names.append(name)
    return ", ".join(names)


def _add_vary(headers: CIMultiDict[str], name: str) -> None:
    present = [part.strip() for part in headers.get("Vary", "").split(",") if part.strip()]
    if name.lower() not in (part.lower() for part in present):
        headers["Vary"] = ", ".join([*present, name])
