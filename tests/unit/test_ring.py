from acemux.streaming.ring import ChunkRing


def test_sequence_numbers_and_lookup():
    ring = ChunkRing(max_bytes=1000)
    assert [ring.append(bytes(100)) for _ in range(3)] == [0, 1, 2]
    assert ring.get(1) == bytes(100)
    assert ring.get(3) is None


def test_eviction_keeps_size_bounded_and_drops_old_join_points():
    ring = ChunkRing(max_bytes=300)
    ring.append(b"a" * 100, [0])
    ring.append(b"b" * 100)
    ring.append(b"c" * 100, [10])
    ring.append(b"d" * 100)
    assert ring.size == 300
    assert ring.first_seq == 1 and ring.get(0) is None
    assert ring.latest_join() == (2, 10)
    assert ring.join_after(0) == (2, 10)
    ring.append(b"e" * 250)
    assert ring.latest_join() is None


def test_keeps_newest_chunk_even_when_larger_than_ring():
    ring = ChunkRing(max_bytes=10)
    ring.append(b"x" * 50)
    assert len(ring) == 1 and ring.get(0) == b"x" * 50


def test_clear_keeps_counting():
    ring = ChunkRing(max_bytes=1000)
    ring.append(b"a", [0])
    ring.clear()
    assert ring.latest_join() is None and len(ring) == 0
    assert ring.append(b"b") == 1
