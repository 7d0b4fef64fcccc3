import json
import logging

from acemux.logs import JsonFormatter, ids


def record(**extra) -> logging.LogRecord:
    rec = logging.LogRecord("acemux.test", logging.INFO, __file__, 1, "viewer %d left", (7,), None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_channel_and_viewer_as_fields():
    line = json.loads(JsonFormatter().format(record(**ids("a" * 40, 7))))
    assert line["message"] == "viewer 7 left"
    assert line["channel"] == "a" * 40 and line["viewer"] == 7
    assert line["level"] == "info" and line["logger"] == "acemux.test"


def test_json_lines_without_identifiers_have_no_such_fields():
    line = json.loads(JsonFormatter().format(record()))
    assert "channel" not in line and "viewer" not in line
