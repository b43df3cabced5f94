"""Test helpers: numpy arrays in and out of VapourSynth clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import vapoursynth as vs


def clip_from_planes(planes: Sequence[np.ndarray], fmt: int, length: int = 1, **props: object) -> vs.VideoNode:
    """A clip whose every frame holds ``planes`` (one 2-D array per plane), tagged with ``props``."""
    h, w = planes[0].shape
    blank = vs.core.std.BlankClip(format=fmt, width=w, height=h, length=length)
    arrays = [np.ascontiguousarray(p) for p in planes]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i, plane in enumerate(arrays):
            np.copyto(np.asarray(out[i]), plane.astype(np.asarray(out[i]).dtype))
        return out

    clip = vs.core.std.ModifyFrame(blank, blank, fill)
    return vs.core.std.SetFrameProps(clip, **props) if props else vs.core.std.RemoveFrameProps(
        clip, ["_Matrix", "_Transfer", "_Primaries", "_Range", "_ChromaLocation"])


def planes_of(clip: vs.VideoNode, n: int = 0) -> list[np.ndarray]:
    """Copies of frame ``n``'s planes as numpy arrays."""
    frame = clip.get_frame(n)
    return [np.array(frame[i]) for i in range(frame.format.num_planes)]
