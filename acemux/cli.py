"""Command line: `acemux serve`, `acemux demo`, `acemux fake-engine`.

Every Settings field is a flag of `serve` and `demo` (`--grace-seconds 3`) and an
environment variable (`ACEMUX_GRACE_SECONDS=3`); a flag wins over the variable.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from pydantic import ValidationError

from acemux import __version__, logs
from acemux.config import Settings

log = logging.getLogger(__name__)

DEMO_PORT = 8080
LIST_SETTINGS = {"engine"}  # settings holding comma-separated lists


def _add_settings_flags(parser: argparse.ArgumentParser, skip: set[str] = frozenset()) -> None:
    for name, field in Settings.model_fields.items():
        if name in skip:
            continue
        if field.annotation is bool:  # --metrics-open / --no-metrics-open
            parser.add_argument(
                "--" + name.replace("_", "-"),
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{field.description} [env ACEMUX_{name.upper()}; default {field.default}]",
            )
            continue
        kind = field.annotation if field.annotation in (int, float) else str
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            # --engine may be given once per engine; the values are joined with commas.
            action="append" if name in LIST_SETTINGS else "store",
            default=argparse.SUPPRESS,  # only flags given on the line override
            metavar=kind.__name__.upper(),
            help=f"{field.description} [env ACEMUX_{name.upper()}; default {field.default}]",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acemux", description="A fan-out proxy for AceStream engines."
    )
    parser.add_argument("--version", action="version", version=f"acemux {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="Proxy an AceStream engine.")
    _add_settings_flags(serve)

    demo = sub.add_parser(
        "demo", help="Run the proxy with the built-in fake engine and print a URL to play."
    )
    _add_settings_flags(demo, skip={"engine", "host", "port"})
    demo.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    demo.add_argument("--port", type=int, default=DEMO_PORT, help="Port to listen on.")

    check = sub.add_parser(
        "check", help="Check playback against an engine; non-zero exit when a check fails."
    )
    _add_settings_flags(check, skip={"host", "port"})
    check.add_argument("--content-id", required=True, help="A content id the engine can play.")
    check.add_argument(
        "--seconds", type=float, default=5.0, help="How long to measure the stream's bitrate."
    )
    check.set_defaults(log_level="WARNING")  # the table is the output; --log-level shows more

    hash_token = sub.add_parser(
        "hash-token", help="Print a token's hash, as the users file stores it (token_sha256)."
    )
    hash_token.add_argument("token", help="The user's token.")

    fake = sub.add_parser("fake-engine", help="Run the built-in fake AceStream engine alone.")
    fake.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    fake.add_argument("--port", type=int, default=6878, help="Port to listen on.")
    fake.add_argument(
        "--rate", type=float, default=1.0, help="Speed of the stream: 1 is real time, 0 unpaced."
    )
    fake.add_argument("--log-level", default="INFO", help="Logging level.")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name) for name in Settings.model_fields if hasattr(args, name)
    }
    for name in LIST_SETTINGS & overrides.keys():
        overrides[name] = ",".join(overrides[name])
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "hash-token":
        from acemux.users import hash_token

        print(hash_token(args.token))
        return 0
    try:
        if args.command == "fake-engine":
            logs.configure(args.log_level)
            return _run(lambda stop: _fake_engine(args, stop))
        settings = _settings(args)
    except ValidationError as err:
        print(f"acemux: invalid settings:\n{err}", file=sys.stderr)
        return 2
    if settings.users_file:
        from acemux.users import read_users_file

        try:
            read_users_file(Path(settings.users_file).expanduser())
        except ValueError as err:
            print(f"acemux: invalid users file: {err}", file=sys.stderr)
            return 2
    logs.configure(settings.log_level, settings.log_format)
    if args.command == "demo":
        return _run(lambda stop: _demo(settings, stop))
    if args.command == "check":
        from acemux.check import run_check

        return asyncio.run(run_check(settings, args.content_id, args.seconds))
    return _run(lambda stop: _serve(settings, stop))


def _run(body: Callable[[asyncio.Event], Awaitable[Any]]) -> int:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set():  # a second Ctrl+C: stop waiting for a clean exit
                raise SystemExit(1)
            log.info("shutting down")
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await body(stop)

    try:
        import uvloop
    except ImportError:
        asyncio.run(runner())
    else:
        uvloop.run(runner())
    return 0


async def _serve(settings: Settings, stop: asyncio.Event) -> None:
    from acemux.web.app import AcemuxServer

    async with AcemuxServer(settings):
        # What startup made (modules, the app) lives as long as the process. Out of
        # the cyclic GC's way, a full collection scans only what came since: a
        # profile of one channel and 100 viewers had ~18% of acemux's CPU in the GC.
        gc.freeze()
        await stop.wait()


async def _demo(settings: Settings, stop: asyncio.Event) -> None:
    from acemux.fake_engine import AC3_CONTENT_ID, DEMO_CONTENT_ID, FakeEngine
    from acemux.web.app import AcemuxServer

    async with FakeEngine(host="127.0.0.1", port=0) as engine:
        settings = settings.model_copy(update={"engine": engine.url})
        async with AcemuxServer(settings) as server:
            url = f"{server.url}/ace/getstream?id={DEMO_CONTENT_ID}"
            hls = f"{server.url}/ace/manifest.m3u8?id={DEMO_CONTENT_ID}"
            print(
                f"\nacemux demo is running with the built-in fake engine.\n"
                f"Open this in VLC, mpv or ffplay:\n\n    {url}\n\n"
                f"As HLS: {hls}\n"
                f"With AC-3 audio, made AAC by a profile: "
                f"{server.url}/ace/getstream?id={AC3_CONTENT_ID}&profile=aac\n"
                f"Dashboard: {server.url}/   Stop: Ctrl+C\n",
                flush=True,
            )
            await stop.wait()


async def _fake_engine(args: argparse.Namespace, stop: asyncio.Event) -> None:
    from acemux.fake_engine import DEMO_CONTENT_ID, FakeEngine

    async with FakeEngine(host=args.host, port=args.port, rate=args.rate) as engine:
        print(f"fake engine on {engine.url}; try id {DEMO_CONTENT_ID}", flush=True)
        await stop.wait()
