#!/usr/bin/env python3
"""Warm channels: time to first picture of a warm channel beside a cold one.

The fake engine plays in real time (rate 1, a keyframe every second) and
prebuffers like a real engine (`--prebuffer` seconds before it sends headers).
acemux serves named channels (--channels): one kept warm (--warm-channels),
the others cold. A probe (in a load-client process) measures from sending its
request to /channel/<slug> until it holds PAT, PMT and a video keyframe, the
moment a player can show a picture:
- cold: each probe on a channel nobody watches (a fresh engine session: getstream,
  the engine's prebuffer, the first keyframe);
- warm: probes on the warm channel, nobody else watching it, at random moments.
"""

from __future__ import annotations

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
    wait_until,
    write_json,
)

BAR_WARM_PICTURE_MS = 50.0


def parse_args() -> Any:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=8, help="cold-channel probes")
    parser.add_argument("--warm", type=int, default=30, help="warm-channel probes")
    parser.add_argument("--prebuffer", type=float, default=2.0, help="engine prebuffer, seconds")
    args = parser.parse_args()
    if args.quick:
        args.cold, args.warm, args.prebuffer = min(args.cold, 2), min(args.warm, 3), 0.2
    return args


def ms(values: list[dict[str, Any]], name: str) -> list[float]:
    return [1000 * v[name] for v in values if v.get(name) is not None]


def main() -> int:
    args = parse_args()
    print(f"warm channels: fake engine in real time, prebuffer {args.prebuffer:g} s")
    machine = print_machine(args.src)
    rng = random.Random(16)
    cold_ids = [content_id(i, "warm-bench-cold") for i in range(args.cold)]
    channels = ";".join(
        [f"Warm={content_id(0, 'warm-bench')}"]
        + [f"Cold {i}={cid}" for i, cid in enumerate(cold_ids)]
    )
    with Bench(args) as bench:
        _engine, engine_url = bench.fake_engine(sample_mbps(bench.src))
        http_json(f"{engine_url}/fake/faults", {"prebuffer_seconds": args.prebuffer})
        ace, ace_url = bench.acemux(
            engine_url, "--channels", channels, "--warm-channels", "warm", "--grace-seconds", "1"
        )
        probe = bench.clients("probe", [], max_seconds=300)

        def warm_playing() -> bool:
            channel = http_json(f"{ace_url}/api/v1/channels/warm")
            return channel["state"] == "playing" and channel["live"]

        with step("the warm channel tunes"):
            wait_until(warm_playing, timeout=30, what="the warm channel playing")
            time.sleep(1.5)  # a keyframe or two in its buffer
        cold, warm = [], []
        with step(f"{args.cold} cold channels"):
            for i in range(args.cold):
                time.sleep(rng.uniform(0.1, 0.6))
                answer = probe.cmd(cmd="probe", url=f"{ace_url}/channel/cold-{i}", timeout=60)
                if answer.get("status") != 200 or answer.get("key") is None:
                    raise BenchError(f"cold probe failed: {answer}")
                cold.append(answer)
        with step(f"{args.warm} probes of the warm channel"):
            for _ in range(args.warm):
                time.sleep(rng.uniform(0.1, 0.6))  # join at a random point of the GOP
                answer = probe.cmd(cmd="probe", url=f"{ace_url}/channel/warm")
                if answer.get("status") != 200 or answer.get("key") is None:
                    raise BenchError(f"warm probe failed: {answer}")
                warm.append(answer)
        engine_sessions = http_json(f"{ace_url}/api/v1/streams/warm")["engine"]["sessions"]
        ace.check_alive()

    rows = []
    for label, probes in (("cold channel", cold), ("warm channel", warm)):
        for name, what in (("ttfb", "first byte"), ("key", "PAT+PMT+keyframe (picture)")):
            values = ms(probes, name)
            rows.append(
                [f"{label}: {what}", len(values), percentile(values, 50),
                 percentile(values, 90), max(values)]
            )
    print()
    print(table(["ms from request", "n", "p50", "p90", "max"], rows))
    warm_p90 = percentile(ms(warm, "key"), 90)
    cold_p50 = percentile(ms(cold, "key"), 50)
    write_json(args.json, {"machine": machine, "args": vars(args), "cold": cold, "warm": warm})
    summary(
        "warm",
        f"warm channel picture {percentile(ms(warm, 'key'), 50):.1f} ms p50 / {warm_p90:.1f} ms"
        f" p90 (bar <= {BAR_WARM_PICTURE_MS:g}: "
        f"{verdict(warm_p90 <= BAR_WARM_PICTURE_MS, args.quick)}), cold {cold_p50:.0f} ms p50;"
        f" the warm channel kept {engine_sessions} engine session(s) through {len(warm)} probes",
    )
    return 0


if __name__ == "__main__":
    run_main(main)
