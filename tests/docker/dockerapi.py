"""The tests' own small Docker Engine API client (aiohttp on the Unix socket).

Independent of acemux's docker provider, so the tests check what the daemon
really runs rather than what the provider believes.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import aiohttp

ENDPOINT = "http://docker"  # the host part is ignored on a Unix socket


class DockerError(Exception):
    pass


class DockerApi:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "DockerApi":
        self._http = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=self.socket_path),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def call(self, method: str, path: str, params=None, body: Any = None) -> Any:
        assert self._http is not None
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
        async with self._http.request(
            method, ENDPOINT + path, params=params, json=body
        ) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise DockerError(f"{method} {path}: HTTP {resp.status}: {text.strip()}")
            if resp.content_type == "application/json" and text.strip():
                return json.loads(text)
            return text

    async def ping(self) -> bool:
        try:
            return await self.call("GET", "/_ping") == "OK"
        except (aiohttp.ClientError, OSError, DockerError):
            return False

    async def stream(self, path: str, params: dict, data, content_type: str) -> list[dict]:
        """POST a body (a tar) to a streaming endpoint (build, import); raise on its errors."""
        assert self._http is not None
        messages = []
        async with self._http.post(
            ENDPOINT + path, params=params, data=data, headers={"Content-Type": content_type}
        ) as resp:
            if resp.status >= 400:
                raise DockerError(f"POST {path}: HTTP {resp.status}: {await resp.text()}")
            async for line in resp.content:
                if line.strip():
                    message = json.loads(line)
                    if "error" in message:
                        said = "".join(m.get("stream", "") for m in messages[-15:])
                        raise DockerError(f"POST {path}: {message['error']}\n{said}")
                    messages.append(message)
        return messages

    async def containers(self, label: str) -> list[dict]:
        """Every container (running or not) with the label (`key=value`)."""
        return await self.call(
            "GET", "/containers/json", {"all": "1", "filters": {"label": [label]}}
        )

    async def inspect(self, container_id: str) -> dict:
        return await self.call("GET", f"/containers/{container_id}/json")

    async def kill(self, container_id: str) -> None:
        await self.call("POST", f"/containers/{container_id}/kill")

    async def remove(self, container_id: str) -> None:
        await self.call("DELETE", f"/containers/{container_id}", {"force": "1"})

    async def run(self, config: dict, name: str) -> str:
        created = await self.call("POST", "/containers/create", {"name": name}, config)
        await self.call("POST", f"/containers/{created['Id']}/start")
        return created["Id"]


async def file_chunks(path: str, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk
