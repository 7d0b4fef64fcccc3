import pytest

from acemux.errors import BadRequest
from acemux.streaming.key import ChannelKey

CID = "a" * 40


def test_id_and_extra_params_without_pid():
    key = ChannelKey.from_query({"id": CID.upper(), "pid": "x", "transcode_audio": "1"})
    assert key.selector() == {"id": CID}
    assert key.extra_params() == {"transcode_audio": "1"}
    assert key.name == CID + "?transcode_audio=1"


def test_infohash_and_path_forms():
    assert ChannelKey.from_query({"infohash": CID}).selector() == {"infohash": CID}
    assert ChannelKey.from_query({}, path_id=CID).selector() == {"id": CID}
    assert ChannelKey.from_query({"content_id": CID}).selector() == {"id": CID}


@pytest.mark.parametrize(
    "query, path_id, message",
    [
        ({}, None, "missing content id"),
        ({"id": CID, "infohash": CID}, None, "exactly one"),
        ({"id": CID}, CID, "exactly one"),
        ({"id": "xyz"}, None, "40 hexadecimal"),
        ({"id": "g" * 40}, None, "40 hexadecimal"),
        ({}, "abc", "40 hexadecimal"),
        ({"id": CID, "x": "y" * 300}, None, "too long"),
    ],
)
def test_bad_queries(query, path_id, message):
    with pytest.raises(BadRequest, match=message):
        ChannelKey.from_query(query, path_id)


def test_a_profile_makes_its_own_channel_and_is_not_passed_to_the_engine():
    raw = ChannelKey.from_query({"id": CID, "transcode_audio": "1"})
    aac = ChannelKey.from_query({"id": CID, "transcode_audio": "1", "profile": "aac"})
    assert aac != raw and hash(aac) != hash(raw)
    assert aac.profile == "aac"
    assert aac.extra_params() == {"transcode_audio": "1"}  # what the engine is asked for
    assert aac.name == CID + "?transcode_audio=1&profile=aac"
    assert aac.raw == raw and raw.raw is raw


def test_the_copy_profile_is_the_raw_channel():
    raw = ChannelKey.from_query({"id": CID})
    assert ChannelKey.from_query({"id": CID, "profile": "copy"}) == raw


@pytest.mark.parametrize("profile", ["AAC", "a b", "x" * 40, "../etc", "-i"])
def test_bad_profile_names(profile):
    with pytest.raises(BadRequest, match="profile must be"):
        ChannelKey.from_query({"id": CID, "profile": profile})
