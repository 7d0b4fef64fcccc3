"""Channel names and grouping: the slug rule, playlist entries, configured channels."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acemux.channels.catalogue import ChannelCatalogue, group_entries, parse_configured, slugify
from acemux.channels.liveness import SourceHealth
from acemux.config import Settings
from acemux.playlists.entries import read_entries
from acemux.streaming.key import ChannelKey

A, B, C = "a" * 40, "b" * 40, "c" * 40


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("BBC One HD", "bbc-one-hd"),
        ("Sport.One", "sport-one"),
        ("  Canal+ (ES) ", "-canal-es-"),
        ("Ñews 24/7", "-ews-24-7"),
        ("abc123", "abc123"),
    ],
)
def test_slug_is_lower_case_with_each_other_run_one_dash(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slug_comes_from_tvg_id_else_tvg_name_else_title_and_groups_in_order() -> None:
    playlist = read_entries(
        (
            "#EXTM3U\n"
            f'#EXTINF:-1 tvg-id="X.1" tvg-name="Ignored",Title\nacestream://{A}\n'
            f'#EXTINF:-1 tvg-name="Named One",Other title\nacestream://{B}\n'
            f"#EXTINF:-1,Just A Title\nacestream://{C}\n"
            f'#EXTINF:-1 tvg-id="x.1",Backup\nacestream://{C}\n'
            f'#EXTINF:-1 tvg-name="named one",Second\nacestream://{A}\n'
        ).encode()
    )
    channels, skipped = group_entries([("p", playlist)])
    assert list(channels) == ["x-1", "named-one", "just-a-title"]
    assert [k.value for k in channels["x-1"].sources] == [A, C]
    assert [k.value for k in channels["named-one"].sources] == [B, A]
    assert channels["named-one"].name == "Named One"
    assert skipped == {"p": []}


def test_entries_of_several_playlists_join_one_channel_and_duplicates_are_reported() -> None:
    first = read_entries(f'#EXTINF:-1 tvg-id="one",One\nacestream://{A}\n'.encode())
    second = read_entries(
        (
            f'#EXTINF:-1 tvg-id="one",One\nacestream://{A}\n'
            f'#EXTINF:-1 tvg-id="one",One\nacestream://{B}\n'
            "not a link\n"
        ).encode()
    )
    channels, skipped = group_entries([("first", first), ("second", second)])
    assert [k.value for k in channels["one"].sources] == [A, B]
    assert channels["one"].origin == "first,second"
    assert skipped["second"] == [
        "line 5: not an AceStream link",
        "line 2: duplicate of first line 2 (channel one)",
    ]


def test_configured_channels_parse_sources_and_replace_a_playlist_channel_of_their_slug() -> None:
    channels = parse_configured(
        f"Sport One={A}|infohash:{B}?transcode_audio=1| acestream://{C} ;News={B}"
    )
    assert channels["sport-one"].sources == [
        ChannelKey("id", A),
        ChannelKey("infohash", B, (("transcode_audio", "1"),)),
        ChannelKey("id", C),
    ]
    catalogue = ChannelCatalogue(Settings(channels=f"One={B}"))
    entries = read_entries(f'#EXTINF:-1 tvg-id="one",One\nacestream://{A}\n'.encode())
    catalogue.update([("p", entries)])
    assert catalogue.require("one").sources == [ChannelKey("id", B)]
    assert [c.slug for c in catalogue.from_playlist("p")] == ["one"]


@pytest.mark.parametrize(
    "text",
    [
        "NoSources=",
        "=" + A,
        f"X={A[:-1]}",
        f"X=magnet:{A}",
        f"A b={A};a-b={B}",
        f"X={A}?k=" + "v" * 300,
    ],
)
def test_bad_configured_channels_are_refused_with_the_setting(text: str) -> None:
    with pytest.raises(ValidationError):
        Settings(channels=text)


def test_a_failing_source_backs_off_doubling_and_is_forgiven_when_it_delivers() -> None:
    settings = Settings(channel_backoff_seconds=10, channel_backoff_max_seconds=25)
    health = SourceHealth(ChannelKey("id", A))
    health.failed("no data", settings)
    assert health.backing_off() and 9 < health.retry_in() <= 10
    health.failed("no data", settings)
    assert 19 < health.retry_in() <= 20
    health.failed("no data", settings)
    assert 24 < health.retry_in() <= 25  # capped
    dead = health.score(settings)
    health.delivered(ttfb=0.5)
    assert not health.backing_off() and health.failures == 0 and health.live(60)
    assert health.score(settings) > dead
    assert health.describe(settings, playing=False)["state"] == "ok"


def test_the_catalogue_regroups_when_a_playlist_is_read_anew() -> None:
    catalogue = ChannelCatalogue(Settings())
    catalogue.update([("p", read_entries(f"#EXTINF:-1,One\nacestream://{A}\n".encode()))])
    assert [c.slug for c in catalogue.channels()] == ["one"]
    catalogue.update([("p", read_entries(f"#EXTINF:-1,Two\nacestream://{A}\n".encode()))])
    assert [c.slug for c in catalogue.channels()] == ["two"] and catalogue.get("one") is None
    assert catalogue.live(catalogue.require("two")) is False
