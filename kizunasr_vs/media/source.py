"""Open video files with bestsource, with errors that say what went wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError


def open_video(path: Path | str) -> vs.VideoNode:
    """Decode ``path`` with bestsource (frame-accurate); raises ``vs.Error`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FilterError(f"input '{path}' does not exist or is not a file")
    core = vs.core
    if not hasattr(core, "bs"):
        raise FilterError("the bestsource plugin is missing; install it with `pip install vapoursynth-bestsource`")
    try:
        clip = core.bs.VideoSource(str(path), cachemode=0)
    except vs.Error as exc:
        raise FilterError(f"cannot decode '{path}': {exc}. Is it a video file ffmpeg can read?") from exc
    if clip.format is None or clip.width == 0:
        raise FilterError(f"'{path}' changes format or size mid-stream; that is not supported")
    return clip


def keyframe_indices(path: Path | str) -> list[int]:
    """Frame numbers (presentation order) of the first video stream's keyframes, read from the packets
    by ffprobe without decoding; empty when ffprobe is missing or the timestamps cannot be read."""
    try:
        proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                               "packet=pts,flags", "-of", "csv=p=0", str(path)],
                              capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    packets: list[tuple[int, bool]] = []
    for line in proc.stdout.splitlines():
        pts, _, flags = line.strip().partition(",")
        if not pts.lstrip("-").isdigit():
            return []  # a packet without a timestamp: frame numbers cannot be trusted
        if "D" not in flags:  # packets an edit list discards are no frames of the clip
            packets.append((int(pts), "K" in flags))
    order = sorted(range(len(packets)), key=lambda i: packets[i][0])
    return [rank for rank, i in enumerate(order) if packets[i][1]]
