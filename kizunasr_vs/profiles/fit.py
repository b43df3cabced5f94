"""A target size that keeps the picture's shape: the picture, in square pixels, fitted inside the target at the
source's display aspect (its sample aspect ratio counted), and padded with black to the target's size.

Padding rather than a sample aspect ratio in the output: every player, editor and thumbnailer shows padded
square pixels right, while some ignore the aspect flag and would show a stretched picture.
"""

from __future__ import annotations

from fractions import Fraction

import vapoursynth as vs

from kizunasr_vs.core.formats import RANGE_FULL

Size = tuple[int, int]


def sample_aspect(clip: vs.VideoNode, props: vs.FrameProps | None = None) -> Fraction:
    """The clip's sample (pixel) aspect ratio from frame 0's ``_SARNum``/``_SARDen`` (1 where absent or 0)."""
    if props is None:
        props = clip.get_frame(0).props
    num, den = int(props.get("_SARNum", 1)), int(props.get("_SARDen", 1))
    return Fraction(num, den) if num > 0 and den > 0 else Fraction(1)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def fitted_size(width: int, height: int, sar: Fraction, target: Size) -> Size:
    """The size in square pixels of a ``width`` x ``height`` picture of sample aspect ``sar`` fitted inside
    ``target``: the display aspect kept, both sides even (4:2:0), the larger side touching the target's."""
    display_width = width * sar
    scale = min(Fraction(target[0]) / display_width, Fraction(target[1], height))
    return min(target[0], _even(float(display_width * scale))), min(target[1], _even(float(height * scale)))


def black(fmt: vs.VideoFormat, color_range: int) -> list[float]:
    """Black in ``fmt`` at ``color_range`` (zimg numbering), one value per plane."""
    if fmt.sample_type == vs.FLOAT:
        return [0.0] * fmt.num_planes
    luma = 0 if color_range == RANGE_FULL or fmt.color_family == vs.RGB else 16 << (fmt.bits_per_sample - 8)
    if fmt.color_family == vs.YUV:
        return [luma, 1 << (fmt.bits_per_sample - 1), 1 << (fmt.bits_per_sample - 1)]
    return [luma] * fmt.num_planes


def fit_inside(clip: vs.VideoNode, picture: Size, target: Size, color_range: int,
               kernel: str = "Spline36") -> vs.VideoNode:
    """``clip`` resized to ``picture`` (see ``fitted_size``) and centred on black to ``target``, tagged with square
    pixels."""
    out = getattr(clip.resize, kernel)(*picture)
    pad_w, pad_h = target[0] - picture[0], target[1] - picture[1]
    if pad_w or pad_h:
        fmt = out.format
        assert fmt is not None
        left, top = pad_w // 4 * 2, pad_h // 4 * 2  # even: chroma subsampling
        out = out.std.AddBorders(left, pad_w - left, top, pad_h - top, color=black(fmt, color_range))
    return out.std.SetFrameProps(_SARNum=1, _SARDen=1)
