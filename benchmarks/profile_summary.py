#!/usr/bin/env python3
"""Summarise a py-spy profile in "raw" (collapsed stacks) format: where the time goes.

    py-spy record --format raw -o prof.txt --pid PID --duration 10
    python benchmarks/profile_summary.py prof.txt

Prints the functions with the most samples on top of the stack (self) and in
the stack at all (inclusive), as a share of all samples taken while the
process was running (py-spy's idle samples are left out, as with --idle off).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
# py-spy frames look like "func (module/path.py:123)"; group them by function.
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/", "/work/", "acemux/"):
        if marker in path:
            path = (
                path.split(marker, 1)[1]
                if marker != "acemux/"
                else "acemux/" + path.split(marker, 1)[1]
            )
            break
    return f"{m.group('func')} ({path})"


def summarise(path: Path, top: int = 15) -> str:
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        frames = [f for f in m.group(1).split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        count = int(m.group(2))
        if not frames:
            continue
        total += count
        names = [_name(f) for f in frames]
        self_counts[names[-1]] += count
        for name in set(names):
            incl_counts[name] += count
    if not total:
        return f"{path}: no samples"
    out = [f"{path.name}: {total} samples"]
    out.append("  self time (top of stack):")
    for name, count in self_counts.most_common(top):
        out.append(f"    {100 * count / total:5.1f}%  {name}")
    out.append("  inclusive (anywhere in the stack):")
    for name, count in incl_counts.most_common(top + 10):
        out.append(f"    {100 * count / total:5.1f}%  {name}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top))


if __name__ == "__main__":
    main()
