"""The command line: flags over ACEMUX_* variables, and the demo's printed URL plays."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest

from acemux.cli import _settings, build_parser
from tests.streamclient import free_port, read_stream
from tests.tspackets import assert_whole_packets


def test_flags_override_environment(monkeypatch):
    monkeypatch.setenv("ACEMUX_GRACE_SECONDS", "7")
    monkeypatch.setenv("ACEMUX_PORT", "9999")
    args = build_parser().parse_args(["serve", "--port", "1234", "--engine", "http://e:1"])
    settings = _settings(args)
    assert settings.port == 1234  # the flag wins
    assert settings.grace_seconds == 7  # the variable fills the rest
    assert settings.engine == "http://e:1"


def test_engine_flag_repeats_for_several_engines():
    args = build_parser().parse_args(
        ["serve", "--engine", "http://a:6878", "--engine", "http://b:6878#max=4"]
    )
    engines = _settings(args).engines
    assert [(e.url, e.max_channels) for e in engines] == [
        ("http://a:6878", None),
        ("http://b:6878", 4),
    ]


def test_every_setting_has_a_documented_flag():
    help_text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    for flag in ("--engine", "--grace-seconds", "--max-channels", "--stall-seconds"):
        assert flag in help_text
    assert "ACEMUX_ENGINE" in help_text


def test_invalid_setting_is_a_clear_error(capsys):
    from acemux.cli import main

    assert main(["serve", "--engine", "ftp://nope"]) == 2
    assert "must be an http:// or https:// URL" in capsys.readouterr().err


async def test_demo_prints_a_url_that_plays(http):
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acemux", "demo", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(15):
            url = None
            while url is None:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    pytest.fail("acemux demo exited before printing its URL")
                found = re.search(r"(http://\S+/ace/getstream\?id=[0-9a-f]{40})", line)
                url = found and found.group(1)
        data = await read_stream(http, url, 188 * 500)
        assert_whole_packets(data)
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_only_acemux_variables_configure_acemux(monkeypatch):
    monkeypatch.setenv("ENGINE", "http://10.9.9.9:6878")  # another program's variable
    assert _settings(build_parser().parse_args(["serve"])).engine == "http://127.0.0.1:6878"
    monkeypatch.setenv("ACEMUX_ENGINE", "http://a:6878")
    assert _settings(build_parser().parse_args(["serve"])).engine == "http://a:6878"
    monkeypatch.setenv("ACEMUX_ENGINES", "http://b:6878,http://c:6878")
    assert _settings(build_parser().parse_args(["serve"])).engine == "http://b:6878,http://c:6878"
    args = build_parser().parse_args(["serve", "--engine", "http://d:6878"])
    assert _settings(args).engine == "http://d:6878"  # the flag still wins
