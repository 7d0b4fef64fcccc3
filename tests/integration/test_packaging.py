"""`pip install .` gives a working acemux: a wheel with its data files and a command."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from acemux import __version__

ROOT = Path(__file__).parents[2]


def test_wheel_carries_the_sample_the_dashboard_and_the_command(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=120,
    )
    [wheel] = tmp_path.glob("acemux-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "acemux/fake_engine/data/sample.ts",
        "acemux/fake_engine/data/sample-ac3.ts",
        "acemux/web/static/index.html",
        "acemux/web/static/dashboard.js",
        "acemux/web/static/player.js",
        "acemux/web/static/vendor/hls.min.js",
        "acemux/web/static/vendor/hls.js-LICENSE",
    ):
        assert needed in names
    entry_points = zipfile.ZipFile(wheel).read(f"acemux-{__version__}.dist-info/entry_points.txt")
    assert b"acemux = acemux.cli:main" in entry_points


def test_version_from_the_command_and_the_module():
    for command in ([str(Path(sys.executable).parent / "acemux")], [sys.executable, "-m", "acemux"]):
        out = subprocess.run(
            [*command, "--version"], check=True, capture_output=True, text=True, timeout=30
        )
        assert out.stdout.strip() == f"acemux {__version__}"
