"""Who is asking: every request names its user by token, except the dashboard's own files.

Players pass the token as `?token=` (or in the path, `/t/<token>/…`, for media
servers that append paths to an address they are given), scripts and the
dashboard as `Authorization: Bearer`. The user found is kept on the request:
playlists and lineups carry that user's own token, streams count against the
user's limit, playlists outside the user's list are refused, and changing
anything through the API needs an admin.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from acemux.config import Settings
from acemux.errors import NotFound, Unauthorized
from acemux.users import Forbidden, User, Users

# The page itself holds no data; it asks for the token and sends it with every API call.
DASHBOARD_PATHS = frozenset({"/"})
STATIC_PREFIX = "/static/"
MONITORING_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
STREAM_PATH = "/ace/getstream"  # and /ace/getstream/<id>: each one held stream
CHANNEL_PREFIX = "/channel/"  # a named channel's TS stream is one too (not its HLS)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PLAYLIST_PREFIX = "/playlist/"
USER = web.RequestKey("user", User)
TOKEN = web.RequestKey("token", str)


def token_middlewares(settings: Settings, users: Users) -> list[Middleware]:
    """The user check, or nothing at all when no token or users file is configured."""
    if not users.enabled:
        return []
    open_paths = DASHBOARD_PATHS | (MONITORING_PATHS if settings.metrics_open else frozenset())

    @web.middleware
    async def require_user(request: web.Request, handler) -> web.StreamResponse:
        path = request.path
        if path in open_paths or path.startswith(STATIC_PREFIX):
            return await handler(request)
        found = users.authenticate(_offered(request))
        if found is None:
            raise Unauthorized("a valid token is required: ?token=… or Authorization: Bearer …")
        user, token = found
        request[USER] = user
        if token != _bearer(request):  # a header token stays out of links (scripts resend it)
            request[TOKEN] = token
        if request.method not in READ_METHODS and path.startswith("/api/") and not user.admin:
            raise Forbidden(f"user {user.name} is no admin: only admins change what plays")
        playlist = _playlist_asked(request)
        if playlist is not None and not user.may_see(playlist):
            raise NotFound(f"no playlist named {playlist!r} is configured")
        if path == STREAM_PATH or path.startswith(STREAM_PATH + "/") or _channel_stream(path):
            with users.stream(user):
                return await handler(request)
        return await handler(request)

    return [require_user]


def request_user(request: web.Request) -> User | None:
    """The user the request's token names (None when acemux needs no token)."""
    return request.get(USER)


def own_token(request: web.Request) -> str | None:
    """The URL token this request's user came with, for the links of what it asked for."""
    if request_user(request) is not None:
        return request.get(TOKEN)
    return request.query.get("token")


def visible_playlists(request: web.Request, names: list[str]) -> list[str]:
    user = request_user(request)
    return [name for name in names if user is None or user.may_see(name)]


def _playlist_asked(request: web.Request) -> str | None:
    """The playlist a request is about (its M3U, tuner or guide), if any."""
    playlist = request.match_info.get("playlist")
    if playlist is None and request.path.startswith(PLAYLIST_PREFIX):
        playlist = request.match_info.get("name")
    return playlist


def _channel_stream(path: str) -> bool:
    return path.startswith(CHANNEL_PREFIX) and "/" not in path[len(CHANNEL_PREFIX) :] and not (
        path.endswith(".m3u8")
    )


def _offered(request: web.Request) -> list[str]:
    offered = request.query.getall("token", [])
    if "token" in request.match_info:
        offered.append(request.match_info["token"])
    if bearer := _bearer(request):
        offered.append(bearer)
    return offered


def _bearer(request: web.Request) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""
