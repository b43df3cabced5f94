"""Open video files with bestsource, with errors that say what went wrong."""

from __future__ import annotations

from pathlib import Path

import vapoursynth as vs


def open_video(path: Path | str) -> vs.VideoNode:
    """Decode ``path`` with bestsource (frame-accurate); raises ``vs.Error`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise vs.Error(f"input '{path}' does not exist or is not a file")
    core = vs.core
    if not hasattr(core, "bs"):
        raise vs.Error("the bestsource plugin is missing; install it with `pip install vapoursynth-bestsource`")
    try:
        clip = core.bs.VideoSource(str(path), cachemode=0)
    except vs.Error as exc:
        raise vs.Error(f"cannot decode '{path}': {exc}. Is it a video file ffmpeg can read?") from exc
    if clip.format is None or clip.width == 0:
        raise vs.Error(f"'{path}' changes format or size mid-stream; that is not supported")
    return clip
