"""The dashboard shows provisioned engines with their provider and state."""

from __future__ import annotations

import os

import pytest

from tests.provision.helpers import provisioned_proxy, settled

pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.async_api import expect  # noqa: E402

from tests.e2e.browser import CHROMIUM, chromium_page  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed"),
]

LIVE = 5_000  # ms: the page polls every second


async def test_provisioned_engines_show_provider_and_state():
    async with provisioned_proxy(min_engines=2, spare_engines=0) as proxy, chromium_page() as b:
        await settled(proxy)
        await b.page.goto(proxy.url + "/")
        pills = b.page.locator(".engine.up")
        await expect(pills).to_have_count(2, timeout=LIVE)
        await expect(pills.first).to_contain_text("process ready")
        await expect(pills.first).to_have_attribute("data-state", "ready")
        title = await pills.first.get_attribute("title")
        assert "restarts" in title and "0 channels" in title
