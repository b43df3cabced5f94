"""A clip's timing, written once for the encoder, the CLI and the cluster: frames per second (24 when the clip
has a variable rate), positions written as frames or times, and the checked frame range of an encode."""

from __future__ import annotations

import math
from collections.abc import Callable

import vapoursynth as vs

from kizunasr_vs.core.errors import InputError

FALLBACK_FPS = 24.0  # a variable-rate clip has fps 0/1; its times are then counted at this rate
LONGEST = 366 * 24 * 3600.0  # seconds: a time past this is past any video (and would overflow a frame number)


def fps_of(clip: vs.VideoNode) -> float:
    """The clip's frame rate, or ``FALLBACK_FPS`` for a variable-rate clip."""
    return clip.fps.numerator / clip.fps.denominator if clip.fps.numerator and clip.fps.denominator \
        else FALLBACK_FPS


def frame_range(clip: vs.VideoNode, first: int, last: int | None) -> tuple[int, int]:
    """[first, last) within the clip (``last`` None or past the end: the end); ValueError when empty."""
    end = min(last if last is not None else clip.num_frames, clip.num_frames)
    if not 0 <= first < end:
        raise InputError(f"empty range: start {first}, end {end} of {clip.num_frames} frames")
    return first, end


def read_position(text: str) -> int | float:
    """A frame number (int) from '120', or seconds (float) from '90.5s' or '1:30' / '0:01:30.5'; finite, >= 0."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        if text.endswith("s"):
            seconds = float(text[:-1])
        elif ":" in text:
            seconds = 0.0
            for part in text.split(":"):
                seconds = seconds * 60 + float(part)
        else:
            raise ValueError
    except ValueError:
        raise InputError(f"cannot read position '{text}': use a frame number, 90.5s or 1:30") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"position '{text}' must be a finite time >= 0, like 90.5s or 1:30")
    if seconds > LONGEST:
        raise InputError(f"position '{text}' is past the end of any video (more than a year); use a time within "
                         "the video, like 90.5s or 1:30")
    return seconds


def check_span(start: str | None, end: str | None) -> None:
    """Validate --start and --end before anything is decoded (start < end where both are frames or both times)."""
    first = read_position(start) if start is not None else 0
    if end is None:
        return
    last = read_position(end)
    if type(first) is type(last) and first >= last:
        raise InputError(f"--start {start or 0} is not before --end {end}: nothing to encode")


def parse_position(text: str | None, fps: float, default: int,
                   frame_at: Callable[[float], int] | None = None) -> int:
    """A frame number from '120', '90.5s' or '1:30' / '0:01:30.5' (``read_position``); a time is counted at
    ``fps``, or given to ``frame_at`` (a variable-rate source's frame shown at that time)."""
    if text is None:
        return default
    position = read_position(text)
    if isinstance(position, int):
        return position
    return frame_at(position) if frame_at is not None else round(position * fps)
