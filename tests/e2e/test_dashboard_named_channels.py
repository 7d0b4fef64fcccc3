"""The dashboard's named channels in a real headless Chromium: sources, playing one, failover."""

from __future__ import annotations

import os

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

A = DEMO_CONTENT_ID
B = "b" * 40
LIVE = 5_000  # ms: the page polls every second


async def test_named_channels_show_their_sources_and_the_switch(engine, http, tmp_path):
    settings = dict(channels=f"Sport One={A}|{B}", channel_no_data_seconds=1.0)
    async with running_proxy(engine.url, **settings) as proxy, chromium_page() as browser:
        page = browser.page
        await page.goto(proxy.url + "/")
        row = page.locator('tr.named-channel[data-slug="sport-one"]')
        await expect(row.locator(".named-state")).to_have_text("idle", timeout=LIVE)
        await expect(row.locator(".source")).to_have_count(2)
        await expect(row.locator(".source.untried")).to_have_count(2)
        async with RecordingViewer(http, proxy.url + "/channel/sport-one") as viewer:
            await viewer.wait_bytes(100_000)
            await expect(row.locator(".source.playing")).to_contain_text(A[:8], timeout=LIVE)
            await expect(row.locator(".named-state")).to_have_text("playing · live")
            engine.faults.silent_ids = {A}
            await expect(row.locator(".source.playing")).to_contain_text(B[:8], timeout=LIVE)
            await expect(row.locator(".source.backoff")).to_contain_text(A[:8])
            await save_screenshot(page, tmp_path, "dashboard-named-channels")
        assert browser.errors == []
