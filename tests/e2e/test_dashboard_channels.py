"""The dashboard names playlist channels (number, name, logo) and shows who watches them."""

from __future__ import annotations

import os

import pytest

from acemux.fake_engine import DEMO_CONTENT_ID
from acemux.users import hash_token
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer

pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.async_api import expect  # noqa: E402

from tests.e2e.browser import CHROMIUM, chromium_page, save_screenshot  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed"),
]

LIVE = 5_000  # ms: the page polls every second
# A 1x1 PNG inline: a logo the browser shows without any network.
LOGO = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def test_channel_card_shows_number_name_logo_and_the_user(engine, http, tmp_path):
    (tmp_path / "tv.m3u").write_text(
        f'#EXTM3U\n#EXTINF:-1 tvg-id="demo" tvg-chno="12" tvg-logo="{LOGO}",Demo TV\n'
        f"acestream://{DEMO_CONTENT_ID}\n"
    )
    (tmp_path / "users.toml").write_text(
        f'[users.carol]\ntoken_sha256 = "{hash_token("carol-t")}"\n'
        f'[users.root]\ntoken_sha256 = "{hash_token("root-t")}"\nadmin = true\n'
    )
    async with running_proxy(
        engine.url, playlists=f"tv={tmp_path / 'tv.m3u'}", users_file=str(tmp_path / "users.toml")
    ) as proxy, chromium_page() as browser:
        async with http.get(f"{proxy.url}/playlist/tv.m3u?token=carol-t") as resp:
            assert resp.status == 200
            links = [line for line in (await resp.text()).splitlines() if "getstream" in line]
        async with RecordingViewer(http, links[0]) as viewer:
            await viewer.wait_bytes(50_000)
            page = browser.page
            await page.goto(proxy.url + "/?token=root-t")
            card = page.locator(f'.channel[data-key="{DEMO_CONTENT_ID}"]')
            await expect(card.locator(".channel-id")).to_have_text("12 · Demo TV", timeout=LIVE)
            await expect(card.locator(".channel-id")).to_have_attribute("title", DEMO_CONTENT_ID)
            await expect(card.locator(".channel-logo")).to_be_visible()
            await expect(card.locator("tr.client td").nth(1)).to_have_text("carol @ 127.0.0.1")
            await save_screenshot(page, tmp_path, "dashboard-channel-names")
    assert browser.errors == []
