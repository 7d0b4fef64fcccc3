"""Reading an engine's version answer: both known shapes, and anything else as unknown."""

from __future__ import annotations

import pytest

from acemux.engine.api import EngineVersion


@pytest.mark.parametrize(
    "raw, version, platform",
    [
        (b'{"result": {"platform": "win32", "version": "3.1.74"}}', "3.1.74", "win32"),
        (b'{"result": {"code": 3002300, "version": "3.1.0-rc2"}}', "3.1.0-rc2", None),
        (b'{"result": null, "error": "unknown method"}', None, None),
        (b'{"result": {"version": 3}}', None, None),
        (b"[1, 2]", None, None),
        (b"<html>Not Found</html>", None, None),
        (b"\xff\xfe not utf-8", None, None),
        (b"", None, None),
    ],
)
def test_version_answers_are_read_when_offered(raw, version, platform):
    assert EngineVersion.parse(404, raw) == EngineVersion(404, version, platform)
