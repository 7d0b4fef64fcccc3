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
