from acemux.streaming.index import JoinPoint
from acemux.streaming.ring import ChunkRing


def test_sequence_numbers_and_lookup():
    ring = ChunkRing(max_bytes=1000)
    assert [ring.append(bytes(100)) for _ in range(3)] == [0, 1, 2]
    assert ring.get(1) == bytes(100)
    assert ring.get(3) is None


def test_eviction_keeps_size_bounded_and_drops_old_join_points():
    ring = ChunkRing(max_bytes=300)
    ring.append(b"a" * 100, [JoinPoint(0, b"")])
    ring.append(b"b" * 100)
    ring.append(b"c" * 100, [JoinPoint(10, b"pat")])
    ring.append(b"d" * 100)
    assert ring.size == 300
    assert ring.first_seq == 1 and ring.get(0) is None
    assert ring.latest_join() == (2, JoinPoint(10, b"pat"))
    ring.append(b"e" * 250)
    assert ring.latest_join() is None


def test_keeps_newest_chunk_even_when_larger_than_ring():
    ring = ChunkRing(max_bytes=10)
    ring.append(b"x" * 50)
    assert len(ring) == 1 and ring.get(0) == b"x" * 50


def test_holds_a_span_of_time_not_of_bytes():
    ring = ChunkRing(max_bytes=1 << 20, max_seconds=2.0)
    for t in range(10):  # one chunk a second, a join point in every one
        ring.append(bytes(100), [JoinPoint(0, b"")], now=float(t))
    # Chunks that arrived more than 2 s before the newest are gone.
    assert (ring.first_seq, ring.next_seq) == (7, 10)
    assert ring.size == 300 and ring.seconds_held() == 2.0
    assert [seq for seq, _ in ring.joins()] == [7, 8, 9]


def test_keeps_the_latest_join_point_when_a_gop_is_longer_than_the_ring():
    ring = ChunkRing(max_bytes=1 << 20, max_seconds=2.0)
    ring.append(b"k" * 100, [JoinPoint(5, b"pat")], now=0.0)  # a keyframe, then 5 s without
    for t in range(1, 6):
        ring.append(b"p" * 100, now=float(t))
    assert ring.first_seq == 0, "the keyframe's chunk stays while it is the latest join"
    assert ring.latest_join() == (0, JoinPoint(5, b"pat"))
    ring.append(b"k" * 100, [JoinPoint(0, b"")], now=6.0)  # the next keyframe frees it
    assert ring.first_seq == 4 and ring.seconds_held() == 2.0
    assert ring.latest_join() == (6, JoinPoint(0, b""))


def test_byte_cap_applies_whatever_the_times_say():
    ring = ChunkRing(max_bytes=250, max_seconds=60.0)
    ring.append(b"a" * 100, [JoinPoint(0, b"")], now=0.0)
    ring.append(b"b" * 100, now=0.1)
    ring.append(b"c" * 100, now=0.2)
    assert ring.first_seq == 1 and ring.size == 200
    assert ring.latest_join() is None, "a join point leaves with its chunk"


def test_hold_at_least_only_lengthens_the_span():
    ring = ChunkRing(max_bytes=1 << 20, max_seconds=2.0)
    ring.hold_at_least(5.0)
    ring.hold_at_least(1.0)
    assert ring.max_seconds == 5.0
    for t in range(10):
        ring.append(bytes(10), now=float(t))
    assert ring.first_seq == 4 and ring.seconds_held() == 5.0
