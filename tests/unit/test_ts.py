from acemux.streaming.ts import (
    NULL_PACKET,
    NULL_PID,
    PACKET_SIZE,
    PAT_PID,
    PacketAligner,
    find_section_starts,
    is_aligned,
    packet_pid,
)
from tests.tspackets import assert_whole_packets, packet, pat, pids


def test_null_packet_is_a_valid_null_pid_packet():
    assert len(NULL_PACKET) == PACKET_SIZE
    assert packet_pid(NULL_PACKET) == NULL_PID


def test_aligner_passes_aligned_data_through_without_copying():
    data = packet(256) * 10
    assert PacketAligner().feed(data) is data


def test_aligner_reassembles_packets_split_across_reads():
    stream = b"".join(packet(256, cc=i) for i in range(20))
    aligner = PacketAligner()
    out = b"".join(aligner.feed(stream[i : i + 100]) for i in range(0, len(stream), 100))
    assert out == stream


def test_aligner_skips_garbage_and_resyncs():
    good = [packet(256, cc=i, fill=i) for i in range(6)]
    stream = b"junk!" + good[0] + good[1] + b"\x47\x00garbage" + b"".join(good[2:])
    aligner = PacketAligner()
    out = aligner.feed(stream[:300]) + aligner.feed(stream[300:])
    assert_whole_packets(out)
    assert out == b"".join(good)
    assert aligner.dropped_bytes == len(b"junk!") + len(b"\x47\x00garbage")


def test_aligner_reset_drops_a_partial_packet():
    aligner = PacketAligner()
    assert aligner.feed(packet(256)[:100]) == b""
    aligner.reset()
    assert aligner.feed(packet(257)) == packet(257)


def test_pat_starts_only_at_packet_boundaries():
    # A payload byte pattern that looks like a PAT header must not count.
    decoy = packet(256, fill=0x40)
    data = packet(256) + pat() + decoy + pat()
    assert find_section_starts(data, PAT_PID) == [PACKET_SIZE, 3 * PACKET_SIZE]
    assert pids(data) == [256, 0, 256, 0]


def test_is_aligned():
    assert is_aligned(packet(1) * 3)
    assert not is_aligned(packet(1) * 3 + b"x")
    assert not is_aligned(b"x" + packet(1)[1:])


def test_find_section_starts_from_an_offset_and_for_any_pid():
    data = pat() + packet(0x1234, pusi=True) + packet(0x1234) + pat() + packet(0x1234, pusi=True)
    assert find_section_starts(data, 0x1234) == [188, 4 * 188]
    assert find_section_starts(data, 0, start=188) == [3 * 188]
    assert find_section_starts(data, 0x1234, start=200) == [4 * 188]
