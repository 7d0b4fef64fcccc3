from acemux.fake_engine import default_loop
from acemux.streaming.index import StreamIndex
from acemux.streaming.splice import StreamStart
from acemux.streaming.ts import PACKET_SIZE, packet_pid
from tests.tspackets import pids

CHUNK = 188 * 350


def feed_from(data: bytes, start: StreamStart, index: StreamIndex) -> tuple[bytes, list[int]]:
    out, joins = bytearray(), []
    for at in range(0, len(data), CHUNK):
        chunk = data[at : at + CHUNK]
        emitted, points = start.feed(chunk, index.scan(chunk))
        joins += [len(out) + p.offset for p in points]
        out += emitted
    return bytes(out), joins


def test_a_connection_starting_mid_gop_is_held_until_a_keyframe():
    sample = default_loop().loop_bytes(0)
    mid_gop = sample[188 * 1000 :]
    start, index = StreamStart(), StreamIndex()
    start.begin(splice=False)
    out, joins = feed_from(mid_gop, start, index)
    assert pids(out[: 3 * PACKET_SIZE]) == [0, 4096, 256]
    assert out[2 * PACKET_SIZE + 5] & 0x40, "the third packet starts a keyframe"
    assert joins[0] == 0
    for at in joins[1:]:  # later join points land on keyframe packets
        assert packet_pid(out, at) == 256 and out[at + 1] & 0x40


def test_a_splice_starts_with_discontinuity_packets_leading_into_the_new_data():
    sample = default_loop().loop_bytes(0)
    start, index = StreamStart(), StreamIndex()
    start.begin(splice=True)
    out, joins = feed_from(sample[188 * 1000 :], start, index)
    markers = []
    at = 0
    while (out[at + 3] >> 4) & 0x3 == 0x2 and out[at + 5] & 0x80:  # adaptation only + discontinuity
        markers.append(at)
        at += PACKET_SIZE
    assert joins[0] == at, "viewers joining here skip the markers"
    assert start.splices == 1
    marked = {packet_pid(out, m): out[m + 3] & 0x0F for m in markers}
    assert {0, 4096, 256} <= set(marked)
    for pid, marker_cc in marked.items():
        first = next(a for a in range(at, len(out), PACKET_SIZE) if packet_pid(out, a) == pid)
        assert out[first + 3] & 0x0F == (marker_cc + 1) & 0x0F, f"pid {pid}"
