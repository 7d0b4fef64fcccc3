"""URLs acemux hands to players: its own public address and links to its channels.

Playlists must point players back at acemux (never at an engine), as they
reach it: the request's scheme and host, or, behind a reverse proxy that is
trusted (`trust_forwarded_headers`), what the proxy says in X-Forwarded-*.
A viewer's own `?token=` is carried into the links of the playlist it asked
for, so a player that needed it for the playlist can play the links too.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from aiohttp import web

from acemux.streaming.key import ChannelKey

# What a forwarded host may look like: a name or address with an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_PORT = re.compile(r":\d+$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _first(value: str | None) -> str:
    """The first of a comma-separated header's values (the client-facing proxy's)."""
    return (value or "").split(",")[0].strip()


def public_base(request: web.Request, trust_forwarded: bool, public_url: str = "") -> str:
    """`scheme://host[:port]` of acemux as the player reached it (public_url when set)."""
    if public_url:
        return public_url
    scheme, host = request.scheme, request.host
    if trust_forwarded:
        proto = _first(request.headers.get("X-Forwarded-Proto")).lower()
        if proto in _DEFAULT_PORTS:
            scheme = proto
        forwarded_host = _first(request.headers.get("X-Forwarded-Host"))
        if _HOST.fullmatch(forwarded_host):
            host = forwarded_host
        port = _first(request.headers.get("X-Forwarded-Port"))
        if port.isdigit() and port != _DEFAULT_PORTS[scheme] and not _PORT.search(host):
            host = f"{host}:{port}"
    return f"{scheme}://{host}"


def client_address(request: web.Request, trust_forwarded: bool) -> str:
    forwarded_for = _first(request.headers.get("X-Forwarded-For")) if trust_forwarded else ""
    return forwarded_for or request.remote or ""


def channel_query(key: ChannelKey, token: str | None, selector: bool = True) -> str:
    params = [(key.kind, key.value)] if selector else []
    params += key.extra
    if key.profile:
        params.append(("profile", key.profile))
    if token:
        params.append(("token", token))
    return urlencode(params, quote_via=quote)


def _named_query(key: ChannelKey, token: str | None) -> str:
    """A named channel's link query: its profile and the token, if any."""
    params = [("profile", key.profile)] if key.profile else []
    params += [("token", token)] if token else []
    return f"?{urlencode(params, quote_via=quote)}" if params else ""


def stream_url(base: str, key: ChannelKey, token: str | None, hls: bool = False) -> str:
    """The channel's TS stream, or its HLS playlist.

    TS links by content id take the `/ace/getstream/<id>.ts` form: players that
    judge a link by its name (Jellyfin) then know it is MPEG-TS without a probe.
    The path names a content id, so infohash links keep the query form. A named
    channel has URLs of its own (`/channel/<slug>.ts`, `/channel/<slug>.m3u8`).
    """
    if key.kind == "channel":
        return f"{base}/channel/{key.value}{'.m3u8' if hls else '.ts'}{_named_query(key, token)}"
    if hls or key.kind != "id":
        path = "/ace/manifest.m3u8" if hls else "/ace/getstream"
        return f"{base}{path}?{channel_query(key, token)}"
    rest = channel_query(key, token, selector=False)
    return f"{base}/ace/getstream/{key.value}.ts" + (f"?{rest}" if rest else "")


def segment_url(base: str, key: ChannelKey, number: int, token: str | None) -> str:
    if key.kind == "channel":
        return f"{base}/channel/{key.value}/segment/{number}.ts{_named_query(key, token)}"
    return f"{base}/ace/segment/{number}.ts?{channel_query(key, token)}"
