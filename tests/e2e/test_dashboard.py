"""The dashboard in a real headless Chromium: it loads cleanly and follows the channels live."""

from __future__ import annotations

import os
import re

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer

pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.async_api import expect  # noqa: E402

from tests.e2e.browser import CHROMIUM, chromium_page, save_screenshot  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed"),
]

CID = DEMO_CONTENT_ID
OTHER = "b" * 40
LIVE = 5_000  # ms: the page polls every second


async def test_page_shows_channels_and_clients_as_they_come_and_go(engine, proxy, http, tmp_path):
    async with chromium_page() as browser:
        page = browser.page
        await page.goto(proxy.url + "/")
        await expect(page.locator("#channel-count")).to_have_text("0", timeout=LIVE)
        await expect(page.locator("#no-channels")).to_be_visible()
        await expect(page.locator(".engine.up")).to_have_count(1, timeout=LIVE)

        url = f"{proxy.url}/ace/getstream?id={CID}"
        async with RecordingViewer(http, url, "VLC/3.0.20 LibVLC/3.0.20") as first, RecordingViewer(
            http, url, "mpv 0.35.1"
        ) as second, RecordingViewer(http, f"{proxy.url}/ace/getstream?infohash={OTHER}"):
            await first.wait_bytes(100_000)
            await second.wait_bytes(100_000)
            await expect(page.locator("#channel-count")).to_have_text("2", timeout=LIVE)
            await expect(page.locator("#client-count")).to_have_text("3", timeout=LIVE)
            channel = page.locator(f'.channel[data-key="{CID}"]')
            await expect(channel.locator(".state")).to_have_text("playing", timeout=LIVE)
            await expect(channel.locator("tr.client")).to_have_count(2)
            await expect(channel.locator("td.agent").first).to_have_text("VLC/3.0.20 LibVLC/3.0.20")
            # The sparkline is a line once the bitrate has been sampled twice.
            await expect(channel.locator(".spark-in")).to_have_attribute(
                "points", re.compile(r"\S+\s+\S+"), timeout=LIVE
            )
            await save_screenshot(page, tmp_path, "dashboard-playing")
            await second.close()
            await expect(page.locator("#client-count")).to_have_text("2", timeout=LIVE)

        # Every viewer left: after the grace period the channels close.
        await expect(page.locator("#channel-count")).to_have_text("0", timeout=LIVE)
        await expect(page.locator(".channel")).to_have_count(0)
        await expect(page.locator("#no-channels")).to_be_visible()
        assert browser.errors == []


async def test_buttons_drop_a_client_and_stop_a_channel(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={CID}"
    async with chromium_page() as browser, RecordingViewer(http, url, "player-a") as dropped, RecordingViewer(
        http, url, "player-b"
    ) as kept:
        await dropped.wait_bytes(50_000)
        await kept.wait_bytes(50_000)
        page = browser.page
        await page.goto(proxy.url + "/")
        rows = page.locator("tr.client")
        await expect(rows).to_have_count(2, timeout=LIVE)

        await rows.filter(has_text="player-a").locator("button.drop").click()
        await dropped.wait_ended()
        await expect(rows).to_have_count(1, timeout=LIVE)
        await expect(rows.first).to_contain_text("player-b")
        await expect(page.locator("#client-count")).to_have_text("1")
        assert not kept.gone

        await page.locator(".channel button.stop").click()
        await expect(page.locator("#channel-count")).to_have_text("0", timeout=LIVE)
        await kept.wait_ended()
    assert engine.stats.stop_calls == 1
    assert browser.errors == []


async def test_page_asks_for_the_token(engine, http, tmp_path):
    async with running_proxy(engine.url, token="dash-token") as proxy, chromium_page() as browser:
        async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={CID}&token=dash-token") as viewer:
            await viewer.wait_bytes(50_000)
            page = browser.page
            await page.goto(proxy.url + "/")
            form = page.locator("#token-form")
            await expect(form).to_be_visible(timeout=LIVE)
            await save_screenshot(page, tmp_path, "dashboard-token")
            await page.fill("#token-input", "dash-token")
            await page.click("#token-form button")
            await expect(form).to_be_hidden()
            await expect(page.locator("#channel-count")).to_have_text("1", timeout=LIVE)
            await expect(page.locator("#problem")).to_be_hidden()
    # The only errors are the browser's notes on the first, unauthorised calls.
    assert all("401" in error for error in browser.errors), browser.errors
