"""Cutting a ring into HLS segments at its join points, and the live playlist."""

from __future__ import annotations

import re

from acemux.fake_engine import default_loop
from acemux.streaming.index import JoinPoint, StreamIndex
from acemux.streaming.ring import ChunkRing
from acemux.streaming.segments import PTS_MASK, TS_CLOCK, Segmenter
from acemux.streaming.splice import discontinuity_markers
from acemux.streaming.ts import PACKET_SIZE
from tests.tspackets import packet, pat, pids

PREFIX = pat() + packet(4096, pusi=True)
PACKETS = 10  # per synthetic chunk


def chunk(fill: int) -> bytes:
    return b"".join(packet(256, cc=i, fill=fill) for i in range(PACKETS))


def feed(ring: ChunkRing, pts_list: list[int | None], offset: int = 3 * PACKET_SIZE) -> None:
    """One chunk per keyframe, its join point `offset` bytes in."""
    for pts in pts_list:
        ring.append(chunk(ring.next_seq % 256), [JoinPoint(offset, PREFIX, pts)])


def seconds(*values: float) -> list[int]:
    return [round(v * TS_CLOCK) for v in values]


def urls(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if not line.startswith("#")]


def tag(playlist: str, name: str) -> str | None:
    found = re.search(rf"^#{name}:(.*)$", playlist, re.M)
    return found.group(1) if found else None


def durations(playlist: str) -> list[str]:
    return re.findall(r"^#EXTINF:([\d.]+),$", playlist, re.M)


def test_one_second_gops_make_two_second_segments_once_complete():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 1, 2, 3))
    segmenter.update()
    # [0, 2) is complete (a later join point closes it); [2, ...) is still open.
    assert [(s.number, s.duration) for s in segmenter.segments] == [(0, 2.0)]
    feed(ring, seconds(4, 5, 6))
    segmenter.update()
    playlist = segmenter.playlist(lambda n: f"segment/{n}.ts")
    assert durations(playlist) == ["2.000", "2.000", "2.000"]
    assert urls(playlist) == ["segment/0.ts", "segment/1.ts", "segment/2.ts"]
    assert tag(playlist, "EXT-X-VERSION") == "3"
    assert tag(playlist, "EXT-X-TARGETDURATION") == "2"
    assert tag(playlist, "EXT-X-MEDIA-SEQUENCE") == "0"
    assert "#EXT-X-DISCONTINUITY\n" not in playlist


def test_segment_is_prefix_then_the_ring_from_join_to_join():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 1, 2, 3, 4), offset=3 * PACKET_SIZE)
    segmenter.update()
    first, second = segmenter.segments
    data = b"".join(bytes(p) for p in segmenter.pieces(second))
    # From the join in chunk 2 to the join in chunk 4, with PAT and PMT copies first.
    join = 3 * PACKET_SIZE
    expected = PREFIX + ring.get(2)[join:] + ring.get(3) + ring.get(4)[:join]
    assert data == expected
    assert pids(data)[:3] == [0, 4096, 256]
    assert (first.end_seq, first.end_offset) == (second.start_seq, second.start_offset)


def test_durations_follow_pts_across_the_33_bit_wrap():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    start = PTS_MASK + 1 - round(2.5 * TS_CLOCK)
    feed(ring, [(start + t) & PTS_MASK for t in seconds(0, 1, 2, 3, 4, 5, 6)])
    segmenter.update()
    assert [s.duration for s in segmenter.segments] == [2.0, 2.0, 2.0]
    assert not any(s.discontinuity for s in segmenter.segments)


def test_gops_slightly_short_of_the_target_still_pair_up():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(*(i * 0.96 for i in range(7))))
    segmenter.update()
    assert [s.duration for s in segmenter.segments] == [1.92, 1.92, 1.92]


def test_numbers_stay_with_their_segment_while_old_ones_leave_the_ring():
    ring = ChunkRing(12 * PACKETS * PACKET_SIZE)  # twelve chunks
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(*range(9)))
    segmenter.update()
    before = {s.number: (s.start_seq, s.start_offset) for s in segmenter.segments}
    assert sorted(before) == [0, 1, 2, 3]
    feed(ring, seconds(*range(9, 15)))  # chunks 0..2 leave the ring
    segmenter.update()
    after = {s.number: (s.start_seq, s.start_offset) for s in segmenter.segments}
    assert min(after) == 2 and max(after) == 6
    assert all(after[n] == before[n] for n in after.keys() & before.keys())
    playlist = segmenter.playlist(lambda n: f"{n}.ts")
    assert tag(playlist, "EXT-X-MEDIA-SEQUENCE") == "2"
    assert segmenter.get(1) is None and segmenter.get(7) is None


def test_segment_evicted_after_lookup_has_no_pieces():
    ring = ChunkRing(6 * PACKETS * PACKET_SIZE)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 1, 2, 3))
    segmenter.update()
    segment = segmenter.get(0)
    feed(ring, seconds(4, 5, 6))
    assert segmenter.pieces(segment) is None


def test_live_window_lists_the_newest_segments():
    ring = ChunkRing(1 << 22)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(*range(21)))
    segmenter.update()
    playlist = segmenter.playlist(lambda n: f"{n}.ts", window=4)
    assert urls(playlist) == ["6.ts", "7.ts", "8.ts", "9.ts"]
    assert tag(playlist, "EXT-X-MEDIA-SEQUENCE") == "6"


def test_target_duration_is_the_ceiling_of_the_longest_segment():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 2.5, 4.5, 7.0))
    segmenter.update()
    playlist = segmenter.playlist(str)
    assert durations(playlist) == ["2.500", "2.000", "2.500"]
    assert tag(playlist, "EXT-X-TARGETDURATION") == "3"


def test_a_splice_starts_a_segment_marked_as_a_discontinuity():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 1, 2, 3))
    # A reconnect: discontinuity markers, then PAT, PMT and a keyframe in the data itself.
    body = PREFIX + chunk(9)
    spliced = b"".join(discontinuity_markers(body).values()) + body
    markers = len(spliced) - len(body)
    ring.append(spliced, [JoinPoint(markers, b"", 50 * TS_CLOCK, splice=True)])
    feed(ring, seconds(51, 52, 53))
    segmenter.update()
    before, after = segmenter.segments[1], segmenter.segments[2]
    # The segment cut short by the splice: its keyframes' span plus one GOP; it keeps
    # the markers, the new one opens with PAT, PMT and the keyframe.
    assert before.duration == 2.0 and (before.end_seq, before.end_offset) == (4, markers)
    assert after.discontinuity and (after.start_seq, after.start_offset) == (4, markers)
    assert b"".join(bytes(p) for p in segmenter.pieces(after)).startswith(body)
    playlist = segmenter.playlist(str)
    assert playlist.count("#EXT-X-DISCONTINUITY\n") == 1
    assert tag(playlist, "EXT-X-DISCONTINUITY-SEQUENCE") is None


def test_discontinuity_sequence_counts_discontinuities_that_left_the_window():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 1, 2, 3, 4, 90, 91, 92, 93, 94, 95))  # a jump at 90 s
    segmenter.update()
    assert [s.discontinuity for s in segmenter.segments] == [False, False, False, True, False]
    assert segmenter.segments[2].duration == 1.0  # cut short by the jump: one GOP
    assert tag(segmenter.playlist(str, window=1), "EXT-X-DISCONTINUITY-SEQUENCE") == "1"
    assert tag(segmenter.playlist(str, window=3), "EXT-X-DISCONTINUITY-SEQUENCE") is None


def test_data_lost_before_it_became_a_segment_means_a_discontinuity():
    ring = ChunkRing(5 * PACKETS * PACKET_SIZE)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, seconds(0, 1, 2, 3))
    segmenter.update()
    feed(ring, seconds(*range(4, 12)))  # nobody looked while the open segment left the ring
    segmenter.update()
    numbers = [s.number for s in segmenter.segments]
    assert numbers[0] == 1 and segmenter.segments[0].discontinuity


def test_join_points_without_pts_are_skipped():
    ring = ChunkRing(1 << 20)
    segmenter = Segmenter(ring, 2.0)
    feed(ring, [None, *seconds(0, 1, 2)])
    segmenter.update()
    assert [(s.start_seq, s.duration) for s in segmenter.segments] == [(1, 2.0)]
    assert segmenter.untimed_joins == 1


def test_the_fake_engines_sample_cuts_into_two_second_self_contained_segments():
    sample = default_loop().loop_bytes(0)  # 8 s, a keyframe every second
    ring, index = ChunkRing(1 << 24), StreamIndex()
    size = 188 * 350
    for at in range(0, len(sample), size):
        part = sample[at : at + size]
        ring.append(part, index.scan(part))
    segmenter = Segmenter(ring, 2.0)
    segmenter.update()
    assert [s.duration for s in segmenter.segments] == [2.0, 2.0, 2.0]
    for segment in segmenter.segments:
        data = b"".join(bytes(p) for p in segmenter.pieces(segment))
        assert len(data) % PACKET_SIZE == 0
        assert pids(data)[:3] == [0, 4096, 256]
        assert data[2 * PACKET_SIZE + 5] & 0x40, "the third packet starts a keyframe"


def test_a_segmenter_makes_the_ring_hold_its_playlist_window():
    ring = ChunkRing(1 << 20, max_seconds=10.0)
    Segmenter(ring, 2.0)
    assert ring.max_seconds == 16.0, "six listed segments, the one being cut and one to spare"
