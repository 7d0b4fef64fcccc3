"""ffmpeg profiles: one real ffmpeg per (channel, profile), fed from the raw channel."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from urllib.parse import quote

import aiohttp
import pytest

from acemux.fake_engine import AC3_CONTENT_ID, DEMO_CONTENT_ID, FakeEngine
from acemux.profiles.upstream import ProfileUpstream
from acemux.streaming.session import ChannelSession
from acemux.web.app import AcemuxServer
from acemux.web.keys import REGISTRY
from tests.ffmpeg import decode_bytes, needs_ffmpeg
from tests.integration.apiclient import get_json
from tests.integration.conftest import running_proxy
from tests.integration.test_playlists import PLAYLIST, expected, fetch
from tests.streamclient import RecordingViewer, read_stream, wait_until

pytestmark = [pytest.mark.e2e, needs_ffmpeg]

AC3 = AC3_CONTENT_ID
AAC_URL = "/ace/getstream?id={}&profile=aac"
WAIT = 20.0  # ffmpeg on a shared 2-core machine: bounds, not expectations


async def probe_codecs(source: str | bytes) -> dict[str, str]:
    """{codec_type: codec_name} of a URL or of recorded TS bytes, by real ffprobe."""
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name",
        "-of", "json", "pipe:0" if isinstance(source, bytes) else source,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(WAIT):
            out, err = await proc.communicate(source if isinstance(source, bytes) else None)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return {s["codec_type"]: s["codec_name"] for s in json.loads(out)["streams"]}


def profile_channel(proxy: AcemuxServer, profile: str = "aac") -> ChannelSession:
    [session] = [s for s in proxy.app[REGISTRY].sessions() if s.key.profile == profile]
    return session


def upstream_of(session: ChannelSession) -> ProfileUpstream:
    assert isinstance(session.upstream, ProfileUpstream)
    return session.upstream


def ffmpeg_children() -> list[int]:
    """Our ffmpeg child processes, as the kernel sees them."""
    me, found = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                comm_end = (text := stat.read()).rindex(")")
        except OSError:
            continue
        comm, ppid = text[text.index("(") + 1 : comm_end], int(text[comm_end + 2 :].split()[1])
        if ppid == me and comm == "ffmpeg":
            found.append(int(pid))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie is not: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def error_of(http: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    async with asyncio.timeout(WAIT), http.get(url) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, (await resp.json())["error"]


async def test_aac_profile_has_aac_audio_and_the_original_video(engine, proxy):
    raw = await probe_codecs(f"{proxy.url}/ace/getstream?id={AC3}")
    assert raw == {"video": "h264", "audio": "ac3"}
    assert await probe_codecs(proxy.url + AAC_URL.format(AC3)) == {"video": "h264", "audio": "aac"}


async def test_three_viewers_share_one_ffmpeg_and_one_engine_session_until_the_grace_ends(
    engine: FakeEngine, http
):
    async with running_proxy(engine.url, grace_seconds=1.5) as proxy:
        url = proxy.url + AAC_URL.format(AC3)
        async with RecordingViewer(http, url) as a, RecordingViewer(http, url) as b:
            async with RecordingViewer(http, url) as c:
                for viewer in (a, b, c):
                    await viewer.wait_bytes(300_000, timeout=WAIT)
                session = profile_channel(proxy)
                upstream = upstream_of(session)
                assert len(session.viewers) == 3
                assert upstream.processes_started == 1
                assert ffmpeg_children() == [upstream.process.pid]
                # The raw channel has one viewer: the ffmpeg; the engine one session.
                raw = upstream.raw
                assert raw is not None and len(raw.viewers) == 1
                assert engine.stats.getstream_calls == 1 and engine.stats.open_playback == 1
                # What a joiner of the profile gets decodes cleanly, with AAC audio.
                code, errors = await decode_bytes(c.data)
                assert (code, errors) == (0, "")
                assert (await probe_codecs(bytes(c.data)))["audio"] == "aac"
                pid = upstream.process.pid
        # Every viewer left: the process stays for the grace period, then ends.
        assert alive(pid)
        await wait_until(lambda: session.state == "closed", timeout=WAIT)
        assert not alive(pid) and ffmpeg_children() == []
        await engine.wait_for(lambda s: s.stop_calls == 1, timeout=WAIT)
        await wait_until(lambda: len(proxy.app[REGISTRY]) == 0, timeout=WAIT)


@pytest.mark.parametrize("fault", ["crash", "stall"])
async def test_a_crashed_or_stalled_ffmpeg_is_restarted_and_viewers_stay(engine, http, fault):
    async with running_proxy(engine.url, stall_seconds=1.0) as proxy:
        async with RecordingViewer(http, proxy.url + AAC_URL.format(AC3)) as viewer:
            await viewer.wait_bytes(200_000, timeout=WAIT)
            upstream = upstream_of(profile_channel(proxy))
            first = upstream.process.pid
            os.kill(first, signal.SIGKILL if fault == "crash" else signal.SIGSTOP)
            await wait_until(lambda: upstream.processes_started == 2, timeout=WAIT)
            received = len(viewer.data)
            await viewer.wait_bytes(received + 200_000, timeout=WAIT)
            assert not viewer.ended and viewer.error is None
            assert not alive(first) and ffmpeg_children() == [upstream.process.pid]
            key = quote(profile_channel(proxy).key.name, safe="")
            body = await get_json(http, f"{proxy.url}/api/v1/streams/{key}")
            assert body["profile"]["restarts"] == 1 and body["reconnects"] >= 1
            metrics = await (await http.get(proxy.url + "/metrics")).text()
            assert f'acemux_profile_restarts_total{{channel="{AC3}",profile="aac"}} 1.0' in metrics
        # The stream around the restart still decodes (the splice marks the discontinuity).
        code, errors = await decode_bytes(viewer.data)
        assert code == 0, errors


async def test_api_and_metrics_show_the_profile_process(engine, proxy, http):
    async with RecordingViewer(http, proxy.url + AAC_URL.format(AC3)) as viewer:
        await viewer.wait_bytes(500_000, timeout=WAIT)
        key = quote(f"{AC3}?profile=aac", safe="")
        body = await get_json(http, f"{proxy.url}/api/v1/streams/{key}")
        profile = body["profile"]
        assert profile["name"] == "aac" and profile["source"] == AC3
        assert profile["pid"] == upstream_of(profile_channel(proxy)).process.pid
        assert profile["processes_started"] == 1 and profile["restarts"] == 0
        assert profile["cpu_seconds"] > 0
        assert body["media"] == {
            "video": "h264", "audio": "aac", "stream_types": ["0x1b", "0x0f"],
            "browser_profile": None,
        }  # fmt: skip
        raw = await get_json(http, f"{proxy.url}/api/v1/streams/{AC3}")
        assert raw["profile"] is None and raw["media"]["audio"] == "ac3"
        assert raw["media"]["browser_profile"] == "aac"
        assert [c["address"] for c in raw["clients"]] == ["profile aac"]
        metrics = await (await http.get(proxy.url + "/metrics")).text()
        labels = f'{{channel="{AC3}",profile="aac"}}'
        assert f"acemux_profile_viewers{labels} 1.0" in metrics
        cpu = "acemux_profile_cpu_seconds_total" + labels
        [line] = [line for line in metrics.splitlines() if line.startswith(cpu)]
        assert float(line.split()[-1]) > 0
        profiles = (await get_json(http, proxy.url + "/api/v1/profiles"))["profiles"]
        assert [p["name"] for p in profiles] == ["copy", "aac", "h264"]


async def test_missing_ffmpeg_is_a_502_naming_the_profile(engine, http):
    async with running_proxy(engine.url, ffmpeg="/nonexistent/ffmpeg") as proxy:
        status, error = await error_of(http, proxy.url + AAC_URL.format(AC3))
        assert status == 502 and error["code"] == "profile_error"
        assert "profile aac" in error["message"] and "/nonexistent/ffmpeg" in error["message"]
        # Nothing lingers: the raw channel it held is let go after its grace period.
        await wait_until(lambda: len(proxy.app[REGISTRY]) == 0, timeout=WAIT)
        await engine.wait_for(lambda s: s.stop_calls == 1, timeout=WAIT)


async def test_a_broken_recipe_is_a_502_with_ffmpegs_own_words(engine, http):
    recipe = json.dumps({"broken": ["-c:v", "no_such_encoder"]})
    async with running_proxy(engine.url, profiles=recipe) as proxy:
        status, error = await error_of(http, f"{proxy.url}/ace/getstream?id={AC3}&profile=broken")
        assert status == 502 and error["code"] == "profile_error"
        assert "profile broken" in error["message"] and "no_such_encoder" in error["message"]
        assert ffmpeg_children() == []


async def test_a_configured_profile_plays(engine, http):
    mono = json.dumps({"mono": ["-c:v", "copy", "-c:a", "aac", "-ac", "1"]})
    async with running_proxy(engine.url, profiles=mono) as proxy:
        url = f"{proxy.url}/ace/getstream/{AC3}?profile=mono"
        data = await read_stream(http, url, 300_000, WAIT)
    assert await probe_codecs(data) == {"video": "h264", "audio": "aac"}


async def test_unknown_profile_is_a_400(engine, proxy, http):
    status, error = await error_of(http, f"{proxy.url}/ace/getstream?id={AC3}&profile=nope")
    assert status == 400 and "unknown profile 'nope'" in error["message"]
    assert "aac" in error["message"] and engine.stats.getstream_calls == 0
    # A player's HEAD probe learns the same, stream or HLS; a known profile probes fine.
    for path in ("/ace/getstream", "/ace/manifest.m3u8"):
        async with http.head(f"{proxy.url}{path}?id={AC3}&profile=nope") as resp:
            assert resp.status == 400
        async with http.head(f"{proxy.url}{path}?id={AC3}&profile=aac") as resp:
            assert resp.status == 200
    assert engine.stats.getstream_calls == 0 and ffmpeg_children() == []


async def test_copy_is_the_raw_channel(engine, proxy, http):
    url = f"{proxy.url}/ace/getstream?id={DEMO_CONTENT_ID}"
    copy_url = url + "&profile=copy"
    async with RecordingViewer(http, url) as raw, RecordingViewer(http, copy_url) as copy:
        await raw.wait_bytes(100_000)
        await copy.wait_bytes(100_000)
        assert len(proxy.app[REGISTRY]) == 1 and ffmpeg_children() == []


async def test_hls_of_a_profile_is_cut_from_the_profile_channel(engine, proxy, http):
    async with http.get(f"{proxy.url}/ace/manifest.m3u8?id={AC3}&profile=aac") as resp:
        assert resp.status == 200, await resp.text()
        playlist = await resp.text()
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert segments and all("profile=aac" in url for url in segments)
    async with http.get(segments[0]) as resp:
        assert resp.status == 200
        segment = await resp.read()
    assert await probe_codecs(segment) == {"video": "h264", "audio": "aac"}
    assert [s.key.profile for s in proxy.app[REGISTRY].sessions()] == ["aac", ""]


async def test_playlist_links_carry_the_profile(engine, http, tmp_path):
    path = tmp_path / "list.m3u"
    path.write_bytes(PLAYLIST)
    async with running_proxy(engine.url, playlists=f"home={path}") as proxy:
        body = await fetch(http, f"{proxy.url}/playlist/home.m3u?profile=aac&format=hls")
        want = expected(proxy.url, "/ace/manifest.m3u8").decode()
        want = want.replace(f"?id={DEMO_CONTENT_ID}", f"?id={DEMO_CONTENT_ID}&profile=aac")
        want = want.replace("?id=" + "b" * 40, "?id=" + "b" * 40 + "&profile=aac")
        want = want.replace("?infohash=" + "c" * 40, "?infohash=" + "c" * 40 + "&profile=aac")
        assert body.decode() == want
        await fetch(http, f"{proxy.url}/playlist/home.m3u?profile=nope", status=400)


async def test_status_by_id_names_the_raw_channel_not_its_profile(engine, proxy, http):
    async with RecordingViewer(http, proxy.url + AAC_URL.format(AC3)) as viewer:
        await viewer.wait_bytes(100_000, timeout=WAIT)
        status = await get_json(http, f"{proxy.url}/ace/status?id={AC3}")
        assert status["key"] == AC3 and status["engine"] == engine.url
        raw = await get_json(http, f"{proxy.url}/api/v1/streams/{AC3}")
        assert raw["key"] == AC3


async def test_h264_profile_re_encodes_the_picture_with_keyframes_to_join_at(engine, proxy, http):
    async with RecordingViewer(http, f"{proxy.url}/ace/getstream?id={AC3}&profile=h264") as viewer:
        await viewer.wait_bytes(400_000, timeout=WAIT)
        joins = profile_channel(proxy, "h264").ring.joins()
    assert joins, "the re-encoded stream has keyframes viewers can join at"
    data = bytes(viewer.data)
    assert await probe_codecs(data) == {"video": "h264", "audio": "aac"}
    code, errors = await decode_bytes(data)
    assert (code, errors) == (0, "")


async def test_stopping_a_channel_stops_its_profiles(engine, proxy, http):
    async with RecordingViewer(http, proxy.url + AAC_URL.format(AC3)) as viewer:
        await viewer.wait_bytes(100_000, timeout=WAIT)
        async with http.delete(f"{proxy.url}/api/v1/streams/{AC3}") as resp:
            assert resp.status == 200
        await viewer.wait_ended(timeout=WAIT)
    assert len(proxy.app[REGISTRY]) == 0 and ffmpeg_children() == []
    assert engine.stats.getstream_calls == 1, "the profile did not start the channel again"


async def test_a_named_channel_plays_through_a_profile_as_ts_and_hls(engine, http):
    sources = f"Sport={'0' * 36}dead|{AC3}"  # the first source fails: failover
    async with running_proxy(engine.url, channels=sources) as proxy:
        engine.faults.unknown_ids = {"0" * 36 + "dead"}
        url = f"{proxy.url}/channel/sport.ts?profile=aac"
        async with RecordingViewer(http, url) as viewer:
            await viewer.wait_bytes(300_000, timeout=WAIT)
            assert (await probe_codecs(bytes(viewer.data)))["audio"] == "aac"
            async with http.get(f"{proxy.url}/channel/sport.m3u8?profile=aac") as resp:
                assert resp.status == 200, await resp.text()
                playlist = await resp.text()
            segments = [line for line in playlist.splitlines() if line and line[0] != "#"]
            assert segments and all(u.endswith(".ts?profile=aac") for u in segments)
            async with http.get(segments[0]) as resp:
                assert resp.status == 200
                assert (await probe_codecs(await resp.read()))["audio"] == "aac"
            keys = sorted(s.key.name for s in proxy.app[REGISTRY].sessions())
    assert keys == ["sport", "sport?profile=aac"]
    assert engine.stats.getstream_calls_by_id[AC3] == 1  # one engine session for both
