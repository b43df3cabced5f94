"""What `bench` and `bench --gpu-cost` time shaders on: a pass-through 2x shader (the baseline) and a noise clip."""

from __future__ import annotations

import numpy as np
import vapoursynth as vs


def passthrough(hook: str) -> str:
    """A pass-through 2x shader hooking ``hook``: the baseline of the shaders that hook it."""
    return (f"//!HOOK {hook}\n//!BIND HOOKED\n//!WIDTH HOOKED.w 2 *\n//!HEIGHT HOOKED.h 2 *\n"
            f"//!DESC kizunasr bench pass-through 2x ({hook})\nvec4 hook() {{ return HOOKED_tex(HOOKED_pos); }}\n")


PASSTHROUGH_2X = passthrough("MAIN")


def noise_clip(width: int, height: int, frames: int, fmt: int) -> vs.VideoNode:
    """One frame of uniform RGB noise (seeded), ``frames`` long, in ``fmt`` (BT.709 limited range for YUV)."""
    rng = np.random.default_rng(0)
    planes = rng.random((3, height, width), dtype=np.float32)
    blank = vs.core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i in range(3):
            np.copyto(np.asarray(out[i]), planes[i])
        return out

    rgb = vs.core.std.ModifyFrame(blank, blank, fill).std.Loop(frames)  # one noise frame, served from cache
    rgb = vs.core.std.SetFrameProps(rgb, _Matrix=0, _Range=1, _Transfer=1, _Primaries=1)
    return rgb if fmt == vs.RGBS else rgb.resize.Bicubic(format=fmt, matrix=1, range=0)
