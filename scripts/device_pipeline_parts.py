"""On the GPU machine: fps of the pieces around the model (source, conversions, frame copies), 1080p -> 2160p.

Tells where time goes when the filter runs slower than the bare model. Usage: python scripts/device_pipeline_parts.py
"""

from __future__ import annotations

import numpy as np
import vapoursynth as vs

from kizunasr_vs.cli.bench import _noise_clip, time_clip


def copy_planes(n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
    out = f[0].copy()
    for p in range(3):
        np.asarray(out[p]).fill(0)  # the same 2160p writes a model's output costs
    return out


def main() -> None:
    frames = 40
    noise = _noise_clip(1920, 1080, frames + 1, vs.RGBS)
    half = noise.resize.Point(format=vs.RGBH)
    big = vs.core.std.BlankClip(half, width=3840, height=2160, keep=True)
    write_only = vs.core.std.ModifyFrame(big, [big, half], copy_planes)
    blank_src = vs.core.std.BlankClip(format=vs.RGBS, width=1920, height=1080, length=frames + 1, keep=True)
    parts = {
        "noise source RGBS (python ModifyFrame)": noise,
        "blank source RGBS": blank_src,
        "noise -> RGBH (zimg)": half,
        "2160p RGBH output frame written by numpy (no model)": write_only,
        "2160p RGBH -> YUV420P10 (zimg)": big.resize.Bicubic(format=vs.YUV420P10, matrix=1),
    }
    for name, clip in parts.items():
        print(f"{name:<55} {time_clip(clip):8.1f} fps")


if __name__ == "__main__":
    main()
