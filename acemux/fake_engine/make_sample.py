"""Generate data/sample.ts, the picture and tone the fake engine loops forever,
and data/sample-ac3.ts, the same picture with the tone as AC-3 audio.

Run once, commit the results: ``python -m acemux.fake_engine.make_sample``.
The exact command (the drawtext filter is left out if this ffmpeg lacks it):

    ffmpeg -v error -y \\
      -f lavfi -i "testsrc2=size=640x360:rate=25,drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf:text='acemux fake engine  %{pts\\:hms}  frame %{n}':x=16:y=16:fontsize=24:fontcolor=white:box=1:boxcolor=black@0.6" \\
      -f lavfi -i "sine=frequency=440:sample_rate=48000" \\
      -t 8 -map 0:v -map 1:a \\
      -c:v libx264 -profile:v main -preset veryfast -pix_fmt yuv420p -threads 1 \\
      -g 25 -keyint_min 25 -sc_threshold 0 -b:v 700k -maxrate 800k -bufsize 800k \\
      -c:a aac -b:a 96k -ac 2 -bsf:a "noise=drop=eq(n\\,0)" \\
      -f mpegts -pat_period 0.1 acemux/fake_engine/data/sample.ts

Why these numbers:
- 8 s is 200 video frames at 25 fps and exactly 375 AAC frames at 48 kHz
  (1024 samples each), so audio and video cover the same span and the loop
  closes with neither a gap nor an overlap. 440 Hz fits 3520 whole cycles in
  8 s, so the tone runs on across the seam too.
- ffmpeg's AAC encoder puts one priming frame ahead of the audio; the noise
  bitstream filter drops it so audio starts with the video and has 375 frames.
- A keyframe every second (closed GOPs, no scene-cut keyframes) so a player
  joining anywhere shows a picture within a second; PAT/PMT every 100 ms.

The AC-3 sample copies sample.ts's video and encodes the tone with ffmpeg's
`ac3` encoder (128 kbit/s stereo): 8 s are exactly 250 AC-3 frames of 1536
samples, so it loops as seamlessly. Browsers cannot play AC-3 over MSE: it is
what the `aac` profile is for.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from .tsloop import AC3_SAMPLE_PATH, SAMPLE_PATH, TsLoop

log = logging.getLogger(__name__)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
DRAWTEXT = (
    f"drawtext=fontfile={FONT}:text='acemux fake engine  %{{pts\\:hms}}  frame %{{n}}'"
    ":x=16:y=16:fontsize=24:fontcolor=white:box=1:boxcolor=black@0.6"
)


def ffmpeg_command(out: Path, *, drawtext: bool = True) -> list[str]:
    video = "testsrc2=size=640x360:rate=25" + ("," + DRAWTEXT if drawtext else "")
    return [
        "ffmpeg", "-v", "error", "-y",
        "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "8", "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast",
        "-pix_fmt", "yuv420p", "-threads", "1",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
        "-b:v", "700k", "-maxrate", "800k", "-bufsize", "800k",
        "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-bsf:a", "noise=drop=eq(n\\,0)",
        "-f", "mpegts", "-pat_period", "0.1", str(out),
    ]  # fmt: skip


def ac3_command(video_from: Path, out: Path) -> list[str]:
    return [
        "ffmpeg", "-v", "error", "-y",
        "-i", str(video_from),
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "8", "-map", "0:v", "-map", "1:a",
        "-c:v", "copy", "-c:a", "ac3", "-b:a", "128k", "-ac", "2",
        "-f", "mpegts", "-pat_period", "0.1", str(out),
    ]  # fmt: skip


def make_sample(out: Path = SAMPLE_PATH) -> TsLoop:
    """Write the sample, check it decodes cleanly and loops, and return it parsed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(ffmpeg_command(out), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log.warning("drawtext failed (%s), using the bare test pattern", result.stderr.strip())
        subprocess.run(ffmpeg_command(out, drawtext=False), check=True)
    _check_decodes(out)
    return TsLoop(out.read_bytes())  # raises if it cannot loop seamlessly


def make_ac3_sample(video_from: Path = SAMPLE_PATH, out: Path = AC3_SAMPLE_PATH) -> TsLoop:
    """Write the AC-3 sample from `video_from`'s video, check it and return it parsed."""
    subprocess.run(ac3_command(video_from, out), check=True)
    _check_decodes(out)
    return TsLoop(out.read_bytes())


def _check_decodes(path: Path) -> None:
    check = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    if check.stderr:
        raise RuntimeError(f"{path.name} does not decode cleanly:\n{check.stderr}")


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    for path, ts in ((SAMPLE_PATH, make_sample()), (AC3_SAMPLE_PATH, make_ac3_sample())):
        size = len(ts.data)
        print(
            f"{path}: {size} bytes, {ts.duration_seconds:g} s, "
            f"{size * 8 / ts.duration_seconds / 1e6:.2f} Mbit/s, {ts.packet_count} packets"
        )


if __name__ == "__main__":
    main()
