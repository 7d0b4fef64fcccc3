from acemux.fake_engine import default_loop
from acemux.streaming.index import StreamIndex, is_keyframe
from acemux.streaming.ts import PACKET_SIZE, packet_pid
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
