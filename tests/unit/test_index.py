from acemux.fake_engine import default_loop
from acemux.streaming.index import StreamIndex, is_keyframe
from acemux.streaming.ts import PACKET_SIZE, packet_pid, unit_starts
from tests.tspackets import pids

CHUNK = 188 * 350


def scan_all(data: bytes, index: StreamIndex) -> list[tuple[int, bytes]]:
    """Absolute offsets and prefixes of the join points found in `data`."""
    found = []
    for start in range(0, len(data), CHUNK):
        for join in index.scan(data[start : start + CHUNK]):
            found.append((start + join.offset, join.prefix))
    return found


def test_joins_at_each_keyframe_with_pat_and_pmt_copies():
    sample = default_loop().loop_bytes(0)  # 8 s, a keyframe every second
    index = StreamIndex()
    joins = scan_all(sample, index)
    assert index.video_pid == 256 and index.pmt_pid == 4096
    assert len(joins) == 8
    times = [join.pts for _, join in scan_all_points(sample, StreamIndex())]
    assert [round((b - a) / 90_000, 3) for a, b in zip(times, times[1:])] == [1.0] * 7
    for offset, prefix in joins:
        assert pids(prefix) == [0, 4096]
        assert packet_pid(sample, offset) == 256
        assert is_keyframe(sample[offset : offset + PACKET_SIZE], index.video_type)


def scan_all_points(data: bytes, index: StreamIndex):
    for start in range(0, len(data), CHUNK):
        for join in index.scan(data[start : start + CHUNK]):
            yield start + join.offset, join


def test_keyframe_found_from_the_codec_when_the_random_access_flag_is_missing():
    sample = default_loop().loop_bytes(0)
    index = StreamIndex()
    offset, _ = scan_all(sample, index)[1]
    packet = bytearray(sample[offset : offset + PACKET_SIZE])
    assert packet[5] & 0x40
    packet[5] &= ~0x40  # no random_access_indicator: the SPS/IDR NAL decides
    assert is_keyframe(bytes(packet), index.video_type)


def test_non_key_video_frames_are_not_join_points():
    sample = default_loop().loop_bytes(0)
    index = StreamIndex()
    keyframes = {offset for offset, _ in scan_all(sample, index)}
    starts = [
        at
        for at in range(0, len(sample), PACKET_SIZE)
        if packet_pid(sample, at) == 256 and sample[at + 1] & 0x40
    ]
    assert len(starts) == 200  # 25 fps for 8 s
    others = [at for at in starts if at not in keyframes]
    assert not any(is_keyframe(sample[at : at + PACKET_SIZE], index.video_type) for at in others)


def test_no_join_points_before_the_layout_is_known():
    sample = default_loop().loop_bytes(0)
    first_pat = sample.find(b"\x47\x40\x00")
    assert StreamIndex().scan(sample[first_pat : first_pat + PACKET_SIZE]) == []


def _without_random_access_flags(data: bytes) -> bytes:
    out = bytearray(data)
    for at in range(0, len(out), PACKET_SIZE):
        if out[at + 3] & 0x20 and out[at + 4]:
            out[at + 5] &= ~0x40
    return bytes(out)


def test_a_muxer_that_flags_no_keyframes_is_indexed_from_the_codec():
    sample = default_loop().loop_bytes(0)
    flagged = scan_all(sample, StreamIndex())
    index = StreamIndex()
    assert scan_all(_without_random_access_flags(sample), index) == flagged
    assert not index.flags_keyframes


def test_once_keyframes_are_flagged_an_unflagged_one_is_no_join_point():
    sample = default_loop().loop_bytes(0)
    index = StreamIndex()
    joins = scan_all(sample, index)
    assert index.flags_keyframes
    offset = joins[1][0]
    unflagged = _without_random_access_flags(sample[offset : offset + PACKET_SIZE])
    assert is_keyframe(unflagged, index.video_type)  # the codec says it is one
    assert index.scan(unflagged) == []  # but the muxer flags its keyframes: not taken
    assert [j.offset for j in index.scan(sample[offset : offset + PACKET_SIZE])] == [0]
    index.new_source()  # a new upstream connection: maybe another muxer
    assert [j.offset for j in index.scan(unflagged)] == [0]


def test_a_new_video_stream_is_learnt_again():
    sample = default_loop().loop_bytes(0)
    index = StreamIndex()
    scan_all(sample, index)
    assert index.flags_keyframes
    pmt_at = next(at for at in range(0, len(sample), PACKET_SIZE) if packet_pid(sample, at) == 4096)
    pmt = sample[pmt_at : pmt_at + PACKET_SIZE]
    index.scan(pmt)
    assert index.video_pid == 256 and index.flags_keyframes  # a repeated PMT changes nothing
    entry = b"\x1b\xe1\x00"  # H.264 on PID 256
    assert pmt.count(entry) == 1
    index.scan(pmt.replace(entry, b"\x1b\xe1\x02"))  # the programme's video moves to 258
    assert index.video_pid == 258 and not index.flags_keyframes  # its muxer is learnt again


def test_unit_starts_of_several_pids_come_in_stream_order():
    sample = default_loop().loop_bytes(0)
    wanted = [0, 4096, 256, 257]
    found = unit_starts(sample, wanted)
    expected = [  # every packet looked at, one by one
        (at, packet_pid(sample, at))
        for at in range(0, len(sample), PACKET_SIZE)
        if sample[at + 1] & 0x40 and packet_pid(sample, at) in wanted
    ]
    assert found == expected and len({pid for _, pid in found}) == 4
    later = unit_starts(sample, wanted, start=found[10][0] + 1)
    assert later == found[11:]
