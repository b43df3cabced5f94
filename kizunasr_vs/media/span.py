"""A clip's timing, written once for the encoder, the CLI and the cluster: frames per second (24 when the clip
has a variable rate) and the checked frame range of an encode."""

from __future__ import annotations

import vapoursynth as vs

FALLBACK_FPS = 24.0  # a variable-rate clip has fps 0/1; its times are then counted at this rate


def fps_of(clip: vs.VideoNode) -> float:
    """The clip's frame rate, or ``FALLBACK_FPS`` for a variable-rate clip."""
    return clip.fps.numerator / clip.fps.denominator if clip.fps.numerator and clip.fps.denominator \
        else FALLBACK_FPS


def frame_range(clip: vs.VideoNode, first: int, last: int | None) -> tuple[int, int]:
    """[first, last) within the clip (``last`` None or past the end: the end); ValueError when empty."""
    end = min(last if last is not None else clip.num_frames, clip.num_frames)
    if not 0 <= first < end:
        raise ValueError(f"empty range: start {first}, end {end} of {clip.num_frames} frames")
    return first, end
