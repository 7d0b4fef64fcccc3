#!/usr/bin/env python3
"""Benchmark 3, time to first byte: a fresh channel, and a viewer joining a running one.

The fake engine plays its sample in real time (rate 1, ~0.9 Mbit/s, a
keyframe every second, a PAT every ~0.1 s), like a live channel. A probe (in a
load-client process) measures from sending its request to:
- first body byte (for acemux it may be null-packet filler, sent at once to a
  viewer with nothing decodable to join yet);
- first real byte: the first packet that is not a null packet, i.e. the
  engine's own data; the bars are on this one;
- the first PAT, then PMT, then video keyframe, in that order: the moment a
  player can start decoding ("decodable").

Fresh channel: pairs of probes on channels nobody watches yet, one straight to
the engine (GET /ace/getstream, following its redirect to the playback URL: the
engine's own first byte) and one through acemux (which asks the engine itself
with getstream format=json, then opens the playback URL). acemux's added delay
is the difference within each pair.

Joiner: one viewer keeps a channel playing; probes join it at random moments
and should be served from recent data: a PAT, PMT and keyframe at once.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from harness import (
    Bench,
    BenchError,
    base_parser,
    content_id,
    http_json,
    percentile,
    print_machine,
    run_main,
    sample_mbps,
    step,
    summary,
    table,
    verdict,
    write_json,
)

BAR_FRESH_ADDED_MS = 10.0
BAR_JOIN_TTFB_MS = 10.0
BAR_JOIN_DECODABLE_MS = 50.0


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", type=int, default=12, help="fresh-channel probe pairs per mode")
    parser.add_argument("--joins", type=int, default=30, help="joiner probes")
    parser.add_argument("--rate", type=float, default=1.0, help="fake engine rate (1: real time)")
    args = parser.parse_args()
    if args.quick:
        args.fresh = min(args.fresh, 2)
        args.joins = min(args.joins, 3)
    return args


def ms(value: float | None) -> float:
    return float("nan") if value is None else 1000 * value


def stats_row(name: str, values: list[float]) -> list[Any]:
    values = [v for v in values if not math.isnan(v)]
    return [
        name,
        len(values),
        percentile(values, 50),
        percentile(values, 90),
        max(values, default=float("nan")),
    ]


def start_timeline(engine_url: str, cid: str) -> None:
    """Open and stop an engine session for `cid`: its live timeline starts now."""
    answer = http_json(f"{engine_url}/ace/getstream?id={cid}&format=json")["response"]
    http_json(answer["command_url"] + "?method=stop")


def main() -> int:
    args = parse_args()
    print(f"time to first byte: fake engine at rate {args.rate:g} (real time = 1)")
    machine = print_machine(args.src)
    rng = random.Random(8)
    with Bench(args) as bench:
        _engine, engine_url = bench.fake_engine(args.rate * sample_mbps(bench.src))
        ace, ace_url = bench.acemux(engine_url)
        probe = bench.clients("probe", [], max_seconds=300)
        fresh: dict[str, list[dict[str, Any]]] = {"start": [], "live": []}
        for mode in ("start", "live"):
            http_json(
                f"{engine_url}/fake/faults",
                {"start_mode": "start_of_file" if mode == "start" else "live"},
            )
            with step(f"{args.fresh} fresh channels ({mode}), direct and through acemux"):
                for i in range(args.fresh):
                    ids = (content_id(i, f"ttfb-direct-{mode}"), content_id(i, f"ttfb-{mode}"))
                    phase = rng.uniform(0.05, 0.3) if args.quick else rng.uniform(0.3, 1.3)
                    answers = []
                    for cid, url, direct in (
                        (ids[0], f"{engine_url}/ace/getstream?id={ids[0]}", True),
                        (ids[1], f"{ace_url}/ace/getstream?id={ids[1]}", False),
                    ):
                        if mode == "live":
                            # The channel's live timeline began `phase` s ago (the same for
                            # both of the pair): the first byte lands somewhere in a GOP, as
                            # when tuning a real live channel.
                            start_timeline(engine_url, cid)
                            time.sleep(phase)
                        answers.append(probe.cmd(cmd="probe", url=url, direct=direct))
                    direct, via = answers
                    for answer in (direct, via):
                        if answer.get("status") != 200 or "ttfb" not in answer:
                            raise BenchError(f"fresh probe failed: {answer}")
                    fresh[mode].append({"direct": direct, "acemux": via})
                    time.sleep(0.1)
        http_json(f"{engine_url}/fake/faults", {"start_mode": "start_of_file"})

        joins: list[dict[str, Any]] = []
        keeper = bench.clients(
            "keeper", ["--url", f"{ace_url}/ace/getstream?id={content_id(0, 'ttfb-join')}"], 300
        )
        answer = keeper.cmd(cmd="add", n=1, timeout=30)
        if not answer["first_byte"]:
            raise BenchError(f"the keeper viewer got no data: {answer}")
        time.sleep(1.5 if args.quick else 3.0)  # some seconds of stream held in the ring
        with step(f"{args.joins} joiners on a running channel"):
            for _ in range(args.joins):
                time.sleep(rng.uniform(0.1, 0.6))  # join at a random point of the GOP
                answer = probe.cmd(
                    cmd="probe", url=f"{ace_url}/ace/getstream?id={content_id(0, 'ttfb-join')}"
                )
                if answer.get("status") != 200 or "ttfb" not in answer:
                    raise BenchError(f"join probe failed: {answer}")
                joins.append(answer)
        ace.check_alive()

    rows = []
    added: dict[str, list[float]] = {}
    added_dec: dict[str, list[float]] = {}
    for mode, label in (("start", "at a keyframe"), ("live", "mid-GOP")):
        pairs = fresh[mode]
        direct_ttfb = [ms(f["direct"]["ttfb"]) for f in pairs]
        ace_ttfb = [ms(f["acemux"]["ttfb"]) for f in pairs]
        direct_real = [ms(f["direct"].get("real")) for f in pairs]
        ace_real = [ms(f["acemux"].get("real")) for f in pairs]
        direct_dec = [ms(f["direct"].get("key")) for f in pairs]
        ace_dec = [ms(f["acemux"].get("key")) for f in pairs]
        added[mode] = [a - d for a, d in zip(ace_real, direct_real)]
        added_dec[mode] = [a - d for a, d in zip(ace_dec, direct_dec)]
        rows += [
            stats_row(f"fresh, engine starts {label}: engine direct, first byte", direct_ttfb),
            stats_row(f"fresh, engine starts {label}: via acemux, first byte", ace_ttfb),
            stats_row(
                f"fresh, engine starts {label}: acemux added, first byte",
                [a - d for a, d in zip(ace_ttfb, direct_ttfb)],
            ),
            stats_row(f"fresh, engine starts {label}: engine direct, first real byte", direct_real),
            stats_row(f"fresh, engine starts {label}: via acemux, first real byte", ace_real),
            stats_row(f"fresh, engine starts {label}: acemux added, first real byte", added[mode]),
            stats_row(f"fresh, engine starts {label}: engine direct, decodable", direct_dec),
            stats_row(f"fresh, engine starts {label}: via acemux, decodable", ace_dec),
            stats_row(f"fresh, engine starts {label}: acemux added, decodable", added_dec[mode]),
        ]
    join_ttfb = [ms(j["ttfb"]) for j in joins]
    join_real = [ms(j.get("real")) for j in joins]
    join_pat = [ms(j.get("pat")) for j in joins]
    join_pmt = [ms(j.get("pmt")) for j in joins]
    join_dec = [ms(j.get("key")) for j in joins]
    rows += [
        stats_row("joiner: first byte", join_ttfb),
        stats_row("joiner: first real byte", join_real),
        stats_row("joiner: PAT", join_pat),
        stats_row("joiner: PMT", join_pmt),
        stats_row("joiner: PAT+PMT+keyframe (decodable)", join_dec),
    ]
    print()
    print(table(["ms from request", "n", "p50", "p90", "max"], rows))
    missing = sum(j.get("key") is None for j in joins)
    if missing:
        print(f"{missing} joiners saw no keyframe within the probe's limit")

    fresh_p90 = percentile(added["start"], 90)
    live_p90 = percentile(added["live"], 90)
    live_dec_p90 = percentile(added_dec["live"], 90)
    join_p90 = percentile(join_real, 90)
    dec_p90 = (
        percentile([d for d in join_dec if not math.isnan(d)] or [float("inf")], 90)
        if not missing
        else float("inf")
    )
    parts = [
        (
            f"fresh channel {percentile(added['start'], 50):+.1f} ms p50 / {fresh_p90:+.1f} ms p90"
            f" over the engine's first real byte when the engine starts at a keyframe (bar <= "
            f"{BAR_FRESH_ADDED_MS:g}: {verdict(fresh_p90 <= BAR_FRESH_ADDED_MS, args.quick)}), "
            f"{live_p90:+.0f} ms p90 when it starts mid-GOP "
            f"({verdict(live_p90 <= BAR_FRESH_ADDED_MS, args.quick)}; decodable"
            f" {live_dec_p90:+.1f} ms)"
        ),
        (
            f"joiner first real byte {percentile(join_real, 50):.1f} ms p50"
            f" / {join_p90:.1f} ms p90 "
            f"(bar <= {BAR_JOIN_TTFB_MS:g}: {verdict(join_p90 <= BAR_JOIN_TTFB_MS, args.quick)})"
        ),
        (
            f"joiner PAT+PMT+keyframe {percentile(join_dec, 50):.1f} ms p50 / {dec_p90:.1f} ms"
            f" p90 (bar <= {BAR_JOIN_DECODABLE_MS:g}: "
            f"{verdict(dec_p90 <= BAR_JOIN_DECODABLE_MS, args.quick)})"
        ),
    ]
    write_json(args.json, {"machine": machine, "args": vars(args), "fresh": fresh, "joins": joins})
    summary("ttfb", "; ".join(parts))
    return 0


if __name__ == "__main__":
    run_main(main)
