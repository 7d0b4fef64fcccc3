from acemux.fake_engine import default_loop
from acemux.streaming.index import JoinPoint, StreamIndex, is_keyframe
from acemux.streaming.splice import StreamStart
from acemux.streaming.ts import PACKET_SIZE, packet_pid
from tests.tspackets import pids

CHUNK = 188 * 350
VIDEO, PMT = 256, 4096


def feed_from(data: bytes, start: StreamStart, index: StreamIndex):
    """What viewers get from `data`, and its join points with absolute offsets."""
    out, joins = bytearray(), []
    for at in range(0, len(data), CHUNK):
        chunk = data[at : at + CHUNK]
        emitted, points = start.feed(chunk, index.scan(chunk), index)
        joins += [JoinPoint(len(out) + p.offset, p.prefix, p.pts) for p in points]
        out += emitted
    return bytes(out), joins


def first_of(out: bytes, pid: int) -> int:
    return next(at for at in range(0, len(out), PACKET_SIZE) if packet_pid(out, at) == pid)


def is_marker(out: bytes, at: int) -> bool:
    """An adaptation-only packet with the discontinuity flag."""
    return (out[at + 3] >> 4) & 0x3 == 0x2 and out[at + 4] and out[at + 5] & 0x80


def test_mid_gop_start_holds_video_until_a_keyframe_and_lets_audio_through():
    sample = default_loop().loop_bytes(0)
    start, index = StreamStart(), StreamIndex()
    start.begin(splice=False)
    out, joins = feed_from(sample[188 * 1000 :], start, index)
    video = first_of(out, VIDEO)
    assert out[video + 1] & 0x40 and is_keyframe(out[video : video + PACKET_SIZE], index.video_type)
    assert first_of(out, 0) < video and first_of(out, PMT) < video
    for pid in set(pids(out)):  # every stream starts at a unit start, none mid-way
        assert out[first_of(out, pid) + 1] & 0x40, pid
    # A joiner at the first join point gets PAT, PMT, then the keyframe.
    first = joins[0]
    assert pids((first.prefix + out[first.offset :])[: 3 * PACKET_SIZE]) == [0, PMT, VIDEO]
    assert packet_pid(out, first.offset) in (0, VIDEO)


def test_a_splice_marks_a_discontinuity_ahead_of_each_streams_first_packet():
    sample = default_loop().loop_bytes(0)
    start, index = StreamStart(), StreamIndex()
    index.scan(sample)  # the layout is known from the connection before the splice
    start.begin(splice=True)
    out, _ = feed_from(sample[188 * 1000 :], start, index)
    assert start.splices == 1
    for pid in set(pids(out)):
        marker = first_of(out, pid)
        assert is_marker(out, marker), pid
        nxt = next(
            at
            for at in range(marker + PACKET_SIZE, len(out), PACKET_SIZE)
            if packet_pid(out, at) == pid
        )
        assert out[nxt + 3] & 0x0F == (out[marker + 3] + 1) & 0x0F, pid
    # Audio resumes before the video's keyframe arrives.
    assert first_of(out, 257) < first_of(out, VIDEO)


def test_a_restart_at_the_files_start_keeps_pat_and_pmt_ahead_of_the_video():
    """An engine that restarts the content: PAT, PMT and a keyframe arrive at once."""
    sample = default_loop().loop_bytes(0)
    start, index = StreamStart(), StreamIndex()
    index.scan(sample)  # the connection before the splice
    start.begin(splice=True)
    out, joins = feed_from(sample, start, index)
    ordered = [(packet_pid(out, at), bool(is_marker(out, at))) for at in range(0, 8 * 188, 188)]
    assert ordered[:8] == [
        (17, True), (17, False), (0, True), (0, False),
        (PMT, True), (PMT, False), (VIDEO, True), (VIDEO, False),
    ]  # fmt: skip
    assert joins[0].offset == 6 * PACKET_SIZE  # a joiner there starts at the video's marker


def test_a_stream_first_seen_after_the_keyframe_still_gets_its_marker():
    sample = default_loop().loop_bytes(0)
    start, index = StreamStart(), StreamIndex()
    index.scan(sample)
    start.begin(splice=True)
    # From just after an SDT packet (PID 17): the next one comes after the keyframe.
    out, _ = feed_from(sample[188 * 216 :], start, index)
    sdt = first_of(out, 17)
    assert sdt > first_of(out, VIDEO)
    assert is_marker(out, sdt) and not is_marker(out, sdt + PACKET_SIZE)
    assert packet_pid(out, sdt + PACKET_SIZE) == 17
    for pid in set(pids(out)):  # every stream's first packet is its marker
        assert is_marker(out, first_of(out, pid)), pid
