"""Named users: own tokens in own playlists and lineups, stream limits, admin actions, reload."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import aiohttp
import pytest

from acemux.cli import main
from acemux.users import hash_token
from tests.integration.apiclient import get_json
from tests.integration.conftest import running_proxy
from tests.streamclient import wait_until

ALICE, BOB, ROOT = "alice-s3cret", "bob-s3cret", "root-s3cret"
SPORT, NEWS = "a" * 40, "b" * 40


def users_toml(alice: str = ALICE) -> str:
    return (
        f'[users.alice]\ntoken_sha256 = "{hash_token(alice)}"\n'
        'max_streams = 1\nplaylists = ["sports"]\n\n'
        f'[users.bob]\ntoken_sha256 = "{hash_token(BOB)}"\n'
        'max_streams = 2\nplaylists = ["news"]\n\n'
        f'[users.root]\ntoken_sha256 = "{hash_token(ROOT)}"\nadmin = true\n'
    )


@pytest.fixture
def config(tmp_path) -> dict:
    (tmp_path / "sports.m3u").write_text(
        f'#EXTM3U\n#EXTINF:-1 tvg-id="sport1" tvg-logo="http://l/s.png",Sport One\n'
        f"acestream://{SPORT}\n"
    )
    (tmp_path / "news.m3u").write_text(
        f'#EXTM3U\n#EXTINF:-1 tvg-id="news1",News\nacestream://{NEWS}\n'
    )
    (tmp_path / "users.toml").write_text(users_toml())
    return {
        "playlists": f"sports={tmp_path / 'sports.m3u'};news={tmp_path / 'news.m3u'}",
        "users_file": str(tmp_path / "users.toml"),
    }


async def text(http: aiohttp.ClientSession, url: str, status: int = 200) -> str:
    async with http.get(url) as resp:
        body = await resp.text()
        assert resp.status == status, body
        return body


async def test_each_user_sees_its_own_playlists_with_its_own_token(engine, http, config):
    async with running_proxy(engine.url, **config) as proxy:
        base = proxy.url
        sports = await text(http, f"{base}/playlist/sports.m3u?token={ALICE}")
        assert f"{base}/ace/getstream/{SPORT}.ts?token={ALICE}" in sports
        assert f'url-tvg="{base}/epg/sports.xml?token={ALICE}"' in sports
        news = await text(http, f"{base}/playlist/news.m3u?token={BOB}")
        assert f"?token={BOB}" in news
        for body in (sports, news):
            assert (ALICE in body) != (BOB in body) and ROOT not in body
        # Another user's playlist does not exist for them, in every form.
        for path in ("/playlist/news.m3u", "/hdhr/news/lineup.json", "/epg/news.xml"):
            resp = await http.get(f"{base}{path}?token={ALICE}")
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
        lineup = json.loads(await text(http, f"{base}/lineup.json?token={ALICE}"))
        assert lineup == [
            {"GuideNumber": "1", "GuideName": "Sport One",
             "URL": f"{base}/ace/getstream/{SPORT}.ts?token={ALICE}"}
        ]
        everything = json.loads(await text(http, f"{base}/t/{ROOT}/lineup.json"))
        assert [row["GuideName"] for row in everything] == ["Sport One", "News"]
        assert all(row["URL"].endswith(f"token={ROOT}") for row in everything)


async def test_a_wrong_or_missing_token_is_401(engine, http, config):
    async with running_proxy(engine.url, **config) as proxy:
        for url in (
            f"{proxy.url}/ace/getstream?id={SPORT}&token=nope",
            f"{proxy.url}/playlist/sports.m3u",
            f"{proxy.url}/t/nope/discover.json",
            f"{proxy.url}/api/v1/streams",
        ):
            resp = await http.get(url)
            assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"


async def test_stream_limits_hold_under_concurrent_requests(engine, http, config):
    async with running_proxy(engine.url, **config) as proxy:
        async def open_stream(token: str, content: str) -> aiohttp.ClientResponse:
            return await http.get(f"{proxy.url}/ace/getstream?id={content}&token={token}")

        alice = await asyncio.gather(*(open_stream(ALICE, SPORT) for _ in range(3)))
        bob = await asyncio.gather(*(open_stream(BOB, NEWS) for _ in range(4)))
        try:
            for answers, allowed in ((alice, 1), (bob, 2)):
                assert sorted(r.status for r in answers) == [200] * allowed + [429] * (
                    len(answers) - allowed
                )
            refused = next(r for r in alice if r.status == 429)
            error = (await refused.json())["error"]
            assert error["code"] == "stream_limit_reached" and "alice" in error["message"]
            assert refused.headers["Retry-After"] == "10"
            # Who watches what.
            streams = await get_json(
                http, f"{proxy.url}/api/v1/streams", headers={"Authorization": f"Bearer {ROOT}"}
            )
            watching = sorted(
                (s["id"], c["user"]) for s in streams["streams"] for c in s["clients"]
            )
            assert watching == [(SPORT, "alice"), (NEWS, "bob"), (NEWS, "bob")]
        finally:
            for resp in alice + bob:
                resp.close()
        await wait_until(lambda: proxy.app[_users_key()].streams("alice") == 0)
        again = await open_stream(ALICE, SPORT)
        assert again.status == 200
        again.close()


async def test_hls_players_count_toward_a_users_stream_limit(engine, http, config):
    # alice may watch one stream; an HLS player holds it while its requests come.
    async with running_proxy(engine.url, hls_idle_seconds=1.0, **config) as proxy:
        users = proxy.app[_users_key()]
        manifest = f"{proxy.url}/ace/manifest.m3u8?id={SPORT}&token={ALICE}"
        playlist = await text(http, manifest)
        assert "#EXTINF" in await text(http, manifest)  # the same channel again: no second stream
        assert users.streams("alice") == 1
        segment = next(line for line in playlist.splitlines() if line.startswith("http"))
        async with http.get(segment) as resp:
            assert resp.status == 200
        for url in (
            f"{proxy.url}/ace/getstream?id={NEWS}&token={ALICE}",
            f"{proxy.url}/ace/manifest.m3u8?id={NEWS}&token={ALICE}",
        ):
            async with http.get(url) as resp:
                assert resp.status == 429, url
                assert (await resp.json())["error"]["code"] == "stream_limit_reached"
        # The player went away: after the idle time the stream is free again.
        await wait_until(lambda: users.streams("alice") == 0, timeout=5)
        async with http.get(f"{proxy.url}/ace/getstream?id={NEWS}&token={ALICE}") as resp:
            assert resp.status == 200
            await resp.content.readexactly(188)
            async with http.get(manifest) as refused:  # and a TS stream counts against HLS
                assert refused.status == 429


async def test_admin_actions_need_an_admin(engine, http, config):
    async with running_proxy(engine.url, **config) as proxy:
        stream = await http.get(f"{proxy.url}/ace/getstream?id={NEWS}&token={BOB}")
        try:
            assert stream.status == 200
            await stream.content.readexactly(188)
            url = f"{proxy.url}/api/v1/streams/{NEWS}"
            as_bob = await http.delete(url, headers={"Authorization": f"Bearer {BOB}"})
            assert as_bob.status == 403
            assert (await as_bob.json())["error"]["code"] == "forbidden"
            reconnect = await http.post(f"{url}/reconnect?token={BOB}")
            assert reconnect.status == 403
            listing = await http.get(f"{proxy.url}/api/v1/streams?token={BOB}")
            assert listing.status == 200  # looking is allowed
            as_root = await http.delete(url, headers={"Authorization": f"Bearer {ROOT}"})
            assert as_root.status == 200
        finally:
            stream.close()


async def test_sighup_reloads_the_users_file_and_a_broken_one_changes_nothing(
    engine, http, config
):
    async with running_proxy(engine.url, **config) as proxy:
        url = f"{proxy.url}/playlist/sports.m3u?token="
        await text(http, url + ALICE)
        with open(config["users_file"], "w") as file:
            file.write(users_toml(alice="alice-n3w"))
        os.kill(os.getpid(), signal.SIGHUP)
        # The signal is handled on the event loop: each request gives it a turn.
        for _ in range(100):
            async with http.get(url + "alice-n3w") as resp:
                if resp.status == 200:
                    break
        await text(http, url + "alice-n3w")
        await text(http, url + ALICE, status=401)
        with open(config["users_file"], "w") as file:
            file.write("[users.alice]\ntoken_sha256 = 'short'\n")
        assert proxy.app[_users_key()].reload() is False
        await text(http, url + "alice-n3w")


def test_hash_token_prints_what_the_users_file_stores(capsys):
    assert main(["hash-token", "alice-s3cret"]) == 0
    assert capsys.readouterr().out.strip() == hash_token("alice-s3cret")
    assert len(hash_token("x")) == 64


def test_a_broken_users_file_stops_serve_with_a_clear_message(tmp_path, capsys):
    path = tmp_path / "users.toml"
    path.write_text('[users.x]\ntoken_sha256 = "00"\nmax_streams = "two"\n')
    assert main(["serve", "--users-file", str(path), "--port", "0"]) == 2
    assert "token_sha256 must be 64 hex digits" in capsys.readouterr().err


def _users_key():
    from acemux.web.keys import USERS

    return USERS


async def test_a_user_lists_the_channels_of_its_own_playlists_only(engine, http, config):
    async with running_proxy(engine.url, **config) as proxy:
        url = proxy.url + "/api/v1/playlists/{}/channels?token=" + ALICE
        sports = await get_json(http, url.format("sports"))
        assert [(c["name"], c["id"]) for c in sports["channels"]] == [("Sport One", SPORT)]
        await get_json(http, url.format("news"), status=404)  # bob's, not alice's
        await get_json(http, proxy.url + "/api/v1/playlists/news/channels?token=" + BOB)
