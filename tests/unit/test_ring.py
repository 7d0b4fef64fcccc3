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


def _indexer(seen: list[bytes]):
    """Join point at offset 0 of every chunk that starts with b"K"; records the order."""

    def scan(chunk: bytes) -> list[JoinPoint]:
        seen.append(chunk)
        return [JoinPoint(0, b"")] if chunk.startswith(b"K") else []

    return scan


def test_append_later_indexes_in_order_when_asked():
    seen: list[bytes] = []
    ring = ChunkRing(max_bytes=1 << 20, indexer=_indexer(seen))
    for chunk in (b"a", b"K1", b"b", b"K2", b"c"):
        ring.append_later(chunk)
    assert seen == []  # nothing scanned yet: the reader only appended
    assert ring.latest_join() == (3, JoinPoint(0, b""))
    assert seen == [b"a", b"K1", b"b", b"K2", b"c"]
    assert [seq for seq, _ in ring.joins()] == [1, 3]
    assert len(seen) == 5  # each chunk is scanned once


def test_append_later_indexes_a_batch_by_itself():
    from acemux.streaming.ring import INDEX_BATCH

    seen: list[bytes] = []
    ring = ChunkRing(max_bytes=1 << 20, indexer=_indexer(seen))
    for n in range(INDEX_BATCH + 1):
        ring.append_later(b"K%d" % n)
    assert len(seen) == INDEX_BATCH + 1  # the lag stays bounded without a reader asking


def test_an_indexed_append_after_later_ones_needs_index_pending_first():
    seen: list[bytes] = []
    ring = ChunkRing(max_bytes=1 << 20, indexer=_indexer(seen))
    ring.append_later(b"K0")
    ring.index_pending()  # what the reader does before it scans a chunk itself
    ring.append(b"x", [JoinPoint(0, b"pat")])
    assert ring.joins() == [(0, JoinPoint(0, b"")), (1, JoinPoint(0, b"pat"))]


def test_unindexed_chunks_are_not_evicted_by_age_before_they_are_scanned():
    seen: list[bytes] = []
    ring = ChunkRing(max_bytes=1 << 20, max_seconds=1.0, indexer=_indexer(seen))
    ring.append_later(b"K0", now=0.0)
    for t in range(1, 5):
        ring.append_later(b"x", now=float(t))
    # Older than a second, but never indexed: kept until they are.
    assert ring.first_seq == 0 and seen == []
    assert ring.latest_join() == (0, JoinPoint(0, b""))  # K0 is the only join point
    ring.append_later(b"y", now=5.0)
    # Indexed now: the old ones go, but the latest join point's chunk stays.
    assert ring.first_seq == 0 and ring.get(0) == b"K0"
    ring.append_later(b"K6", now=6.0)
    ring.index_pending()
    ring.append_later(b"z", now=7.0)
    assert ring.first_seq == 6


def test_byte_cap_indexes_before_it_evicts():
    seen: list[bytes] = []
    ring = ChunkRing(max_bytes=250, indexer=_indexer(seen))
    for chunk in (b"K" * 100, b"b" * 100, b"c" * 100):
        ring.append_later(chunk)
    assert seen[0] == b"K" * 100  # scanned before the byte cap pushed it out
    assert ring.first_seq == 1 and ring.latest_join() is None
