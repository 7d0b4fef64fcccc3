"""The dashboard's player in a real headless Chromium: Watch plays a channel over HLS.

An AC-3 channel plays through the aac profile (Chromium's Media Source cannot
take AC-3), an H.264 + AAC channel as it comes, and a failing profile is told
in words. The fake engine runs in real time here: the player plays at 1x.
"""

from __future__ import annotations

import os
from typing import AsyncIterator

import pytest

from acemux.fake_engine import AC3_CONTENT_ID, DEMO_CONTENT_ID, FakeEngine
from acemux.web.keys import REGISTRY
from tests.ffmpeg import needs_ffmpeg
from tests.integration.conftest import running_proxy
from tests.streamclient import RecordingViewer

pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.async_api import expect  # noqa: E402

from tests.e2e.browser import CHROMIUM, chromium_page, save_screenshot  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    needs_ffmpeg,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed"),
    pytest.mark.timeout(120),
]

LIVE = 5_000  # ms: the page polls every second
PLAY = 60_000  # ms: first segment, ffmpeg start and five seconds of playback on a busy machine
PLAYED_SECONDS = 5


@pytest.fixture
async def real_time_engine() -> AsyncIterator[FakeEngine]:
    async with FakeEngine(rate=1.0) as fake:
        yield fake


async def watch(page, proxy_url: str, key: str) -> None:
    await page.goto(proxy_url + "/")
    card = page.locator(f'.channel[data-key="{key}"]')
    await expect(card).to_be_visible(timeout=LIVE)
    await card.locator("button.watch").click()
    await expect(page.locator("#player")).to_be_visible()


async def played_seconds(page, seconds: float) -> dict:
    """Wait until the video played `seconds` past its first frame; return what the player says."""
    video = "document.getElementById('player-video')"
    await page.wait_for_function(f"{video}.currentTime > 0", timeout=PLAY)
    started = await page.evaluate(f"{video}.currentTime")
    await page.wait_for_function(f"{video}.currentTime >= {started + seconds}", timeout=PLAY)
    return await page.evaluate(
        f"""() => ({{
            state: window.acemuxPlayer.state,
            audioBytes: {video}.webkitAudioDecodedByteCount,
            videoBytes: {video}.webkitVideoDecodedByteCount,
            mediaError: {video}.error && {video}.error.message,
            ac3: MediaSource.isTypeSupported('video/mp4; codecs="avc1.4d401e, ac-3"'),
            aac: MediaSource.isTypeSupported('video/mp4; codecs="avc1.4d401e, mp4a.40.2"'),
        }})"""
    )


async def test_watch_plays_an_ac3_channel_through_the_aac_profile(real_time_engine, http, tmp_path):
    async with running_proxy(real_time_engine.url) as proxy, chromium_page() as browser:
        url = f"{proxy.url}/ace/getstream?id={AC3_CONTENT_ID}"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(100_000)  # playing: on the dashboard
            page = browser.page
            await watch(page, proxy.url, AC3_CONTENT_ID)
            await expect(page.locator("#player")).to_have_attribute("data-profile", "aac")
            seen = await played_seconds(page, PLAYED_SECONDS)
            await expect(page.locator("#player-info")).to_contain_text("channel: h264 + ac3")
            await expect(page.locator("#player-info")).to_contain_text("profile aac")
            await expect(page.locator("#player-info")).to_contain_text("mp4a.40.2")
            await save_screenshot(page, tmp_path, "player-ac3")
            keys = [s.key.name for s in proxy.app[REGISTRY].sessions()]
    # This Chromium cannot take AC-3 over MSE: the profile is what made it play.
    assert (seen["ac3"], seen["aac"]) == (False, True)
    state = seen["state"]
    assert state["profile"] == "aac" and "profile=aac" in state["url"]
    assert state["error"] is None and seen["mediaError"] is None
    codecs = state["codecs"]
    assert codecs["audio"].startswith("mp4a.40") and codecs["video"].startswith("avc1")
    assert seen["audioBytes"] > 0 and seen["videoBytes"] > 0  # sound was decoded, not only picture
    assert f"{AC3_CONTENT_ID}?profile=aac" in keys
    assert browser.errors == []


async def test_watch_plays_an_h264_aac_channel_without_a_profile(real_time_engine, http):
    async with running_proxy(real_time_engine.url) as proxy, chromium_page() as browser:
        url = f"{proxy.url}/ace/getstream?id={DEMO_CONTENT_ID}"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(100_000)
            page = browser.page
            await watch(page, proxy.url, DEMO_CONTENT_ID)
            await expect(page.locator("#player")).to_have_attribute("data-profile", "copy")
            seen = await played_seconds(page, PLAYED_SECONDS)
            await expect(page.locator("#player-info")).to_contain_text("no profile (raw stream)")
            profiles = [s.key.profile for s in proxy.app[REGISTRY].sessions()]
    state = seen["state"]
    assert state["error"] is None and seen["mediaError"] is None
    assert "profile=" not in state["url"] and state["codecs"]["audio"].startswith("mp4a.40")
    assert seen["audioBytes"] > 0
    assert profiles == [""], "no ffmpeg: the channel played as it comes"
    assert browser.errors == []


async def test_a_failing_profile_is_told_in_words(real_time_engine, http, tmp_path):
    async with running_proxy(real_time_engine.url, ffmpeg="/nonexistent/ffmpeg") as proxy:
        async with chromium_page() as browser:
            url = f"{proxy.url}/ace/getstream?id={AC3_CONTENT_ID}"
            async with RecordingViewer(http, url) as viewer:
                await viewer.wait_bytes(100_000)
                page = browser.page
                await watch(page, proxy.url, AC3_CONTENT_ID)
                error = page.locator("#player-error")
                await expect(error).to_be_visible(timeout=PLAY)
                for words in (
                    "Could not load the channel's playlist (HTTP 502)",
                    "profile aac: cannot run ffmpeg '/nonexistent/ffmpeg'",
                ):
                    await expect(error).to_contain_text(words)
                await save_screenshot(page, tmp_path, "player-error")
    # The browser notes each failed request; nothing else went wrong on the page.
    assert browser.errors and all("502" in e for e in browser.errors), browser.errors


async def test_watch_a_playlist_channel_that_is_not_playing_yet(real_time_engine, tmp_path):
    path = tmp_path / "list.m3u"
    path.write_text(
        "#EXTM3U\n"
        f'#EXTINF:-1 group-title="Sport",Match in AC-3\nacestream://{AC3_CONTENT_ID}\n'
        f"#EXTINF:-1,Demo\nacestream://{DEMO_CONTENT_ID}\n"
    )
    async with running_proxy(real_time_engine.url, playlists=f"home={path}") as proxy:
        async with chromium_page() as browser:
            page = browser.page
            await page.goto(proxy.url + "/")
            rows = page.locator(".playlist-channel")
            await expect(rows).to_have_count(2, timeout=LIVE)
            await expect(page.locator("#no-channels")).to_be_visible()
            await rows.filter(has_text="Match in AC-3").locator("button.watch").click()
            await expect(page.locator("#player")).to_have_attribute(
                "data-profile", "aac", timeout=PLAY
            )
            seen = await played_seconds(page, PLAYED_SECONDS)
            await expect(page.locator("#player-title")).to_contain_text("Match in AC-3")
            await save_screenshot(page, tmp_path, "player-playlist")
    assert seen["state"]["error"] is None and seen["audioBytes"] > 0
    assert browser.errors == []


async def test_watch_a_named_channel_through_the_aac_profile(real_time_engine, http):
    async with running_proxy(real_time_engine.url, channels=f"Sport={AC3_CONTENT_ID}") as proxy:
        async with chromium_page() as browser:
            async with RecordingViewer(http, f"{proxy.url}/channel/sport.ts") as viewer:
                await viewer.wait_bytes(100_000)
                page = browser.page
                await watch(page, proxy.url, "sport")
                await expect(page.locator("#player")).to_have_attribute("data-profile", "aac")
                seen = await played_seconds(page, PLAYED_SECONDS)
    state = seen["state"]
    assert state["url"].startswith("/channel/sport.m3u8?profile=aac")
    assert state["error"] is None and seen["audioBytes"] > 0
    assert browser.errors == []
