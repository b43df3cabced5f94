"""The colours an encode writes: the frames' own, except where players would show them wrong, converted to 4:2:0
YUV at the output's bit depth, and ffmpeg's tags for them."""

from __future__ import annotations

from dataclasses import replace

import vapoursynth as vs

from kizunasr_vs.core.formats import MATRIX_BT601, MATRIX_BT709, RANGE_FULL, RANGE_LIMITED, ColorInfo, is_hd
from kizunasr_vs.media.errors import EncodeError

BT601_MATRICES = (5, 6)  # BT.470BG and SMPTE 170M: the same BT.601 matrix
CHROMA_LOCATIONS = ("left", "center", "topleft", "top", "bottomleft", "bottom")  # VapourSynth's order


def player_color(clip: vs.VideoNode, color: ColorInfo) -> ColorInfo:
    """The colours ``clip`` (in ``color``) is best shown in: BT.601 YUV becomes BT.709 YUV when the clip is HD,
    which players assume to be BT.709 (many ignore the tags: an SD source upscaled to HD would change hue there).
    Primaries, transfer and chroma location stay: only the YCbCr matrix changes, so colours are exactly the
    source's."""
    fmt = clip.format
    if fmt is not None and fmt.color_family == vs.YUV and is_hd(clip.width, clip.height) \
            and color.matrix in BT601_MATRICES:
        return replace(color, matrix=MATRIX_BT709)
    return color


def to_player_color(clip: vs.VideoNode, color: ColorInfo) -> vs.VideoNode:
    """``clip`` (in ``color``) converted to ``player_color`` and tagged with all five colour props, so that an
    encode (or vspipe) reads its colours from the frames without guessing."""
    out = player_color(clip, color)
    if out != color:
        clip = clip.resize.Bicubic(matrix_in=color.matrix, matrix=out.matrix, range_in=color.range, range=out.range,
                                   chromaloc_in=color.chroma_location, chromaloc=out.chroma_location)
    return clip.std.SetFrameProps(_Matrix=out.matrix, _Transfer=out.transfer, _Primaries=out.primaries,
                                  _Range=out.range, _ChromaLocation=out.chroma_location)


def output_color(clip: vs.VideoNode, color: ColorInfo) -> ColorInfo:
    """The colours an encode of ``clip`` (in ``color``) is written in: ``player_color``, and RGB as limited-range
    YUV, BT.709 for HD and BT.601 for SD (codecs here take YUV)."""
    fmt = clip.format
    if fmt is not None and fmt.color_family == vs.RGB:
        hd = is_hd(clip.width, clip.height)
        return replace(color, matrix=MATRIX_BT709 if hd else MATRIX_BT601, range=RANGE_LIMITED)
    return player_color(clip, color)


def color_tags(color: ColorInfo) -> list[str]:
    """ffmpeg's colour options for ``color``: VapourSynth's matrix, primaries and transfer use ffmpeg's (H.273)
    numbers; the chroma location is one less than ffmpeg's."""
    return ["-colorspace", str(color.matrix), "-color_primaries", str(color.primaries),
            "-color_trc", str(color.transfer), "-color_range", "pc" if color.range == RANGE_FULL else "tv",
            "-chroma_sample_location", CHROMA_LOCATIONS[color.chroma_location]]


def as_420(clip: vs.VideoNode, ten_bit: bool, color: ColorInfo, out: ColorInfo) -> vs.VideoNode:
    """The clip (colours ``color``) as 4:2:0 integer YUV at the output bit depth (what every codec here accepts),
    in the colours ``out``."""
    target = vs.YUV420P10 if ten_bit else vs.YUV420P8
    if clip.format is not None and clip.format.id == target and color == out:
        return clip
    if clip.width % 2 or clip.height % 2:
        raise EncodeError(f"4:2:0 output needs an even size; got {clip.width}x{clip.height}")
    fmt = clip.format
    args = {"matrix": out.matrix, "range": out.range, "chromaloc": out.chroma_location}
    if fmt is not None and fmt.color_family == vs.YUV:
        args |= {"matrix_in": color.matrix, "range_in": color.range, "chromaloc_in": color.chroma_location}
    return clip.resize.Bicubic(format=target, dither_type="error_diffusion", **args)
