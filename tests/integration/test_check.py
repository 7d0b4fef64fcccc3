"""`acemux check` against the fake engine: every check passes, and failures show."""

from __future__ import annotations

import asyncio
import sys

from acemux.check import PlaybackCheck, format_table
from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine
from tests.integration.conftest import make_settings

CID = DEMO_CONTENT_ID
CHECKS = [
    "engine reachable",
    "getstream answers",
    "identity encoding",
    "TS bytes flow",
    "two clients, one upstream",
    "client survives reconnect",
]


async def test_every_check_passes_against_the_fake_engine(engine):
    results = await PlaybackCheck(make_settings(engine.url), CID, seconds=0.5).run()
    assert [r.name for r in results] == CHECKS
    assert [r.status for r in results] == ["pass"] * len(CHECKS), format_table(results)
    details = {r.name: r.detail for r in results}
    assert "3.1.70" in details["engine reachable"]
    assert "Mbit/s" in details["TS bytes flow"]
    # What the checks did really happened at the engine.
    assert all(h["Accept-Encoding"] == "identity" for h in engine.stats.playback_headers)
    assert engine.stats.getstream_calls >= 3  # the direct one, the proxy's, the reconnect's


async def test_an_engine_without_a_version_endpoint_passes_with_its_version_unknown(engine):
    engine.faults.version_mode = "missing"  # a 3.0 engine, or a proxy that does not forward it
    results = await PlaybackCheck(make_settings(engine.url), CID, seconds=0.3).run()
    assert [r.status for r in results] == ["pass"] * len(CHECKS), format_table(results)
    assert results[0].detail == f"{engine.url}: answers (HTTP 404), version unknown"


async def test_a_token_in_the_environment_does_not_lock_the_check_out(engine):
    settings = make_settings(engine.url, token="operator-token")
    results = await PlaybackCheck(settings, CID, seconds=0.3).run()
    assert all(r.status == "pass" for r in results), format_table(results)


async def test_an_unplayable_id_fails_and_skips_what_depends_on_it(engine):
    engine.faults.unknown_ids = {CID}
    results = await PlaybackCheck(make_settings(engine.url), CID, seconds=0.5).run()
    assert [r.status for r in results] == ["pass", "fail"] + ["skip"] * 4
    assert "failed to load content" in results[1].detail


async def test_a_channel_that_cannot_come_back_fails_the_last_check(engine):
    async def refuse_after_the_cut() -> None:
        # Stop 1 ends the check's own probe session, stop 2 is the forced cut.
        await engine.wait_for(lambda s: s.stop_calls >= 2, timeout=20)
        engine.faults.getstream_error = "failed to load content"

    refuser = asyncio.create_task(refuse_after_the_cut())
    settings = make_settings(
        engine.url, retry_budget_seconds=0.5, prebuffer_timeout=2, engine_api_timeout=1
    )
    results = await PlaybackCheck(settings, CID, seconds=0.3).run()
    await refuser
    assert [r.status for r in results] == ["pass"] * 5 + ["fail"], format_table(results)


async def run_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acemux", "check", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(30):
        out, _ = await proc.communicate()
    return proc.returncode, out.decode()


async def test_the_command_prints_a_table_and_exits_by_its_outcome():
    async with FakeEngine(rate=4.0) as engine:
        code, out = await run_cli("--engine", engine.url, "--content-id", CID, "--seconds", "0.3")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "DETAIL"]
    assert [line.split("  ")[0].strip() for line in lines[1:]] == CHECKS
    assert all(" PASS " in line for line in lines[1:])

    # The engine is gone now: the first check fails, so does the command.
    code, out = await run_cli("--engine", engine.url, "--content-id", CID)
    assert code == 1, out
    assert "engine reachable" in out and "FAIL" in out
