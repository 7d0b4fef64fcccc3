"""Profiles: named ffmpeg recipes over a channel's MPEG-TS, built in or configured.

A recipe is ffmpeg's output options as a list (never a shell line): acemux
gives the input (the raw channel on ffmpeg's stdin) and the output (MPEG-TS on
its stdout) around them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from acemux.streaming.key import PROFILE_NAME, RAW_PROFILE

# Keep ffmpeg's start short: MPEG-TS carries its layout in the PAT/PMT, so a
# fraction of a second of input tells it all it needs.
INPUT_OPTIONS = ("-probesize", "1000000", "-analyzeduration", "1000000", "-f", "mpegts")
# Timestamps are kept from the input, so a restarted ffmpeg continues the timeline.
OUTPUT_OPTIONS = ("-copyts", "-f", "mpegts", "-pat_period", "0.1")
# Options acemux sets itself; a recipe that gave them would fight with it.
RESERVED_OPTIONS = frozenset({"-i", "-f", "-y", "-n", "-nostdin", "-copyts"})

FIRST_VIDEO_AND_AUDIO = ["-map", "0:v:0?", "-map", "0:a:0?"]
AAC_STEREO = ["-c:a", "aac", "-ac", "2", "-b:a", "128k"]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    args: tuple[str, ...]  # ffmpeg output options
    description: str = ""
    built_in: bool = False

    def command(self, ffmpeg: str) -> list[str]:
        """The whole ffmpeg command line: stdin in, this recipe, stdout out."""
        return [
            ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
            *INPUT_OPTIONS, "-i", "pipe:0",
            *self.args,
            *OUTPUT_OPTIONS, "pipe:1",
        ]  # fmt: skip


BUILT_IN = {
    p.name: p
    for p in (
        Profile(
            "aac",
            (*FIRST_VIDEO_AND_AUDIO, "-c:v", "copy", *AAC_STEREO),
            "video copied, audio to AAC stereo: for browsers and Chromecast",
            built_in=True,
        ),
        Profile(
            "h264",
            (
                *FIRST_VIDEO_AND_AUDIO,
                "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
                "-pix_fmt", "yuv420p", "-vf", "scale=-2:'min(720,ih)'",
                "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
                # A keyframe every 2 s: join points and HLS segments need them.
                "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0",
                *AAC_STEREO,
            ),  # fmt: skip
            "video to H.264 (at most 720 lines, 2.5 Mbit/s), audio to AAC stereo: for weak TVs",
            built_in=True,
        ),
    )
}


def parse_profiles(text: str) -> dict[str, Profile]:
    """User profiles from JSON: {"name": ["-c:v", "copy", ...], ...}; raises ValueError."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f'profiles must be JSON like {{"name": ["-c:a", "aac"]}}: {err}') from None
    if not isinstance(data, dict):
        raise ValueError('profiles must be a JSON object: {"name": ["-c:a", "aac"]}')
    profiles = {}
    for name, args in data.items():
        if not PROFILE_NAME.fullmatch(name):
            raise ValueError(
                f"profile name {name!r}: lowercase letters, digits, - and _ (up to 32)"
            )
        if name == RAW_PROFILE or name in BUILT_IN:
            raise ValueError(f"profile {name!r} is built in; give yours another name")
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            raise ValueError(f"profile {name!r}: its ffmpeg options must be a list of strings")
        reserved = RESERVED_OPTIONS.intersection(args)
        if reserved:
            raise ValueError(
                f"profile {name!r}: acemux sets {', '.join(sorted(reserved))} itself "
                "(input, output and format); give output options only"
            )
        profiles[name] = Profile(name, tuple(args))
    return profiles


def find_ffmpeg(ffmpeg: str) -> str | None:
    """The ffmpeg binary's path, or None when it is not there."""
    return shutil.which(ffmpeg)


class ProfileCatalog:
    """The profiles this acemux offers: the built-in ones and the configured ones."""

    def __init__(self, user_profiles: str = "") -> None:
        self._profiles = {**BUILT_IN, **parse_profiles(user_profiles)}

    def get(self, name: str) -> Profile | None:
        return self._profiles.get(name)

    def names(self) -> list[str]:
        return [RAW_PROFILE, *self._profiles]

    def describe(self) -> list[dict]:
        raw = {"name": RAW_PROFILE, "built_in": True, "description": "the channel as it comes"}
        return [raw] + [
            {"name": p.name, "built_in": p.built_in, "description": p.description, "args": p.args}
            for p in self._profiles.values()
        ]
