"""A page on another origin, in a real Chromium, reads acemux's HLS, playlists and errors."""

from __future__ import annotations

import contextlib
import os
from typing import AsyncIterator

import pytest
from aiohttp import web

from acemux.fake_engine import DEMO_CONTENT_ID
from tests.integration.conftest import running_proxy

pytest.importorskip("playwright", reason="playwright is not installed")
from tests.e2e.browser import CHROMIUM, chromium_page  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed"),
]

CID = DEMO_CONTENT_ID
TOKEN = "br0wser-t0ken"

# What hls.js does, by hand: the manifest, then a segment with a Range header, the
# token as Bearer (so every request is preflighted), and an error read as JSON.
READ_ACEMUX = """
async ([base, token, cid]) => {
  const headers = {Authorization: "Bearer " + token};
  const manifest = await fetch(`${base}/ace/manifest.m3u8?id=${cid}`, {headers});
  const text = await manifest.text();
  const segmentUrl = text.split("\\n").find((line) => line && !line.startsWith("#"));
  const segment = await fetch(segmentUrl, {headers: {...headers, Range: "bytes=0-"}});
  const bytes = new Uint8Array(await segment.arrayBuffer());
  const playlist = await fetch(`${base}/playlist.m3u`, {headers});
  const error = await fetch(`${base}/ace/getstream?id=nothex`, {headers});
  const unauthorized = await fetch(`${base}/api/v1/streams`);
  return {
    manifest: [manifest.status, text.slice(0, 7)],
    segment: [segment.status, bytes.length, bytes[0]],
    playlist: [playlist.status, (await playlist.text()).slice(0, 7)],
    error: [error.status, (await error.json()).error.code],
    unauthorized: [unauthorized.status, (await unauthorized.json()).error.code],
  };
}
"""

PAGE_HTML = "<!doctype html><title>elsewhere</title>"
BLOCKED = """
async (url) => {
  try { await fetch(url); return "read"; } catch (err) { return "blocked"; }
}
"""


@contextlib.asynccontextmanager
async def page_origin() -> AsyncIterator[str]:
    """A web server of its own (another port: another origin) serving an empty page."""

    async def empty_page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE_HTML, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", empty_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_a_page_elsewhere_reads_hls_playlists_and_errors(engine):
    async with running_proxy(engine.url, token=TOKEN) as proxy, running_proxy(
        engine.url, cors_origins="https://elsewhere.example"
    ) as restricted, page_origin() as page_url, chromium_page() as browser:
        await browser.page.goto(page_url)
        result = await browser.page.evaluate(READ_ACEMUX, [proxy.url, TOKEN, CID])
        blocked = await browser.page.evaluate(BLOCKED, f"{restricted.url}/api/v1/streams")
    assert result == {
        "manifest": [200, "#EXTM3U"],
        "segment": [200, result["segment"][1], 0x47],
        "playlist": [200, "#EXTM3U"],
        "error": [400, "bad_request"],
        "unauthorized": [401, "unauthorized"],
    }
    assert result["segment"][1] > 0 and result["segment"][1] % 188 == 0
    assert blocked == "blocked", "an origin that is not allowed cannot read acemux"
