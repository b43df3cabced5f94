"""Check a written file as a player reads it, before it takes its final name: one ffprobe pass decodes its
video stream and counts the frames."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kizunasr_vs.core.errors import KizunaError


class UnplayableError(KizunaError, RuntimeError):
    """A written file whose video does not decode, or holds another number of frames than were encoded."""


def check_playable(path: Path, frames: int) -> None:
    """Decode the first video stream of ``path`` once; UnplayableError unless it decodes without an error into
    ``frames`` frames."""
    try:
        proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                               "-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", str(path)],
                              capture_output=True, text=True, timeout=24 * 3600)
    except OSError as exc:
        raise UnplayableError(f"cannot check the output with ffprobe ({exc.strerror}); install ffmpeg's ffprobe") \
            from None
    errors = " | ".join(proc.stderr.strip().splitlines()[-3:])
    codec, _, count = proc.stdout.strip().partition(",")
    if proc.returncode != 0 or errors or not count.isdigit() or int(count) != frames:
        found = f"{count or 'no'} frames of {codec or 'no video'}" if proc.returncode == 0 else "nothing"
        raise UnplayableError(f"the written file does not play back: ffprobe decodes {found}, {frames} were "
                              f"encoded{': ' + errors if errors else ''}")
