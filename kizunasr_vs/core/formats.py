"""Colour metadata and format conversion between a clip and what each backend needs.

Backends want one fixed format: ONNX models take RGB float (``RGBS``, full range, 0..1),
vs-placebo takes ``YUV444P16``. These helpers read the colour description of a clip from its
frame props, fill documented fallbacks where a prop is missing or "unspecified", convert to the
backend's format and back to the input's format family afterwards.

Fallbacks (logged once per clip description):

* ``_Matrix``: BT.709 for HD (width >= 1280 or height >= 720), BT.601 (SMPTE 170M) for SD.
* ``_Transfer`` / ``_Primaries``: BT.709 for HD, BT.601 / SMPTE 170M for SD (tags only; no
  conversion between transfers or primaries is done).
* ``_Range`` (R81; legacy ``_ColorRange`` is read too): limited for integer YUV and GRAY,
  full for RGB and for float formats.
* ``_ChromaLocation``: left (MPEG-2 / H.264 default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError

log = logging.getLogger("kizunasr")

MATRIX_RGB = 0
MATRIX_BT709 = 1
MATRIX_BT601 = 6
TRANSFER_BT709 = 1
TRANSFER_BT601 = 6
PRIMARIES_BT709 = 1
PRIMARIES_BT601 = 6
RANGE_LIMITED = 0  # zimg / R81 `_Range` numbering
RANGE_FULL = 1
CHROMA_LEFT = 0

_SUPPORTED_FAMILIES = (vs.YUV, vs.RGB, vs.GRAY)
_warned: set[str] = set()


@dataclass(frozen=True)
class ColorInfo:
    """The colour description needed to convert a clip to RGB and back."""

    matrix: int
    transfer: int
    primaries: int
    range: int  # RANGE_LIMITED or RANGE_FULL (zimg numbering)
    chroma_location: int


def is_hd(width: int, height: int) -> bool:
    """HD means BT.709 defaults; SD means BT.601 defaults."""
    return width >= 1280 or height >= 720


def check_format(clip: vs.VideoNode, who: str) -> vs.VideoFormat:
    """Return the clip's format or raise ``vs.Error`` naming what is unsupported and the fix."""
    if not isinstance(clip, vs.VideoNode):
        raise FilterError(f"the first argument must be a video clip (vs.VideoNode), not {clip!r}")
    fmt = clip.format
    if fmt is None or fmt.id == 0 or clip.width == 0 or clip.height == 0:
        raise FilterError(
            "clips with a variable format or size are not supported; "
            "convert first, e.g. core.resize.Bicubic(clip, width=W, height=H, format=vs.YUV420P16)"
        )
    if fmt.color_family not in _SUPPORTED_FAMILIES:
        raise FilterError(f"unsupported colour family {fmt.name}; use YUV, RGB or GRAY")
    if fmt.sample_type == vs.INTEGER and not 8 <= fmt.bits_per_sample <= 16:
        raise FilterError(
            f"unsupported bit depth {fmt.bits_per_sample} in {fmt.name}; use 8 to 16-bit integer "
            "or half/single float"
        )
    return fmt


def _legacy_range(props: vs.FrameProps) -> int | None:
    """Read `_Range` (R81) or legacy `_ColorRange` (0 = full, 1 = limited) as zimg numbering."""
    if "_Range" in props:
        return int(props["_Range"])
    if "_ColorRange" in props:
        return RANGE_FULL if int(props["_ColorRange"]) == 0 else RANGE_LIMITED
    return None


def _prop_int(props: vs.FrameProps, key: str, unspecified: tuple[int, ...] = (2,)) -> int | None:
    if key not in props:
        return None
    value = int(props[key])
    return None if value in unspecified else value


def resolve_color(clip: vs.VideoNode, props: vs.FrameProps | None = None) -> ColorInfo:
    """Read the clip's colour props (frame 0 unless ``props`` are given) and fill fallbacks."""
    fmt = check_format(clip, "kizunasr")
    if props is None:
        props = clip.get_frame(0).props
    hd = is_hd(clip.width, clip.height)
    missing: list[str] = []

    def pick(key: str, found: int | None, fallback: int, label: str) -> int:
        if found is None:
            missing.append(f"{key} -> {label}")
            return fallback
        return found

    is_rgb = fmt.color_family == vs.RGB
    if is_rgb:
        matrix = MATRIX_RGB
    else:
        matrix = pick(
            "_Matrix",
            _prop_int(props, "_Matrix", (2, 0) if fmt.color_family == vs.YUV else (2,)),
            MATRIX_BT709 if hd else MATRIX_BT601,
            "BT.709" if hd else "BT.601",
        )
    transfer = pick("_Transfer", _prop_int(props, "_Transfer"), TRANSFER_BT709 if hd else TRANSFER_BT601,
                    "BT.709" if hd else "BT.601")
    primaries = pick("_Primaries", _prop_int(props, "_Primaries"), PRIMARIES_BT709 if hd else PRIMARIES_BT601,
                     "BT.709" if hd else "SMPTE 170M")
    default_range = RANGE_FULL if is_rgb or fmt.sample_type == vs.FLOAT else RANGE_LIMITED
    color_range = _legacy_range(props)
    if color_range is None:
        color_range = pick("_Range", None, default_range, "full" if default_range == RANGE_FULL else "limited")
    chroma = CHROMA_LEFT
    if fmt.color_family == vs.YUV and (fmt.subsampling_w or fmt.subsampling_h):
        chroma = pick("_ChromaLocation", _prop_int(props, "_ChromaLocation", ()), CHROMA_LEFT, "left")
    if missing:
        key = f"{fmt.name} {clip.width}x{clip.height}: " + ", ".join(missing)
        if key not in _warned:
            _warned.add(key)
            log.warning("missing colour props, assuming %s", key)
    return ColorInfo(matrix, transfer, primaries, color_range, chroma)


def _zimg_in(info: ColorInfo, family: int) -> dict[str, int]:
    args = {"range_in": info.range, "transfer_in": info.transfer, "primaries_in": info.primaries}
    if family == vs.YUV:
        args["matrix_in"] = info.matrix
        args["chromaloc_in"] = info.chroma_location
    return args


def to_rgbs(clip: vs.VideoNode, info: ColorInfo) -> vs.VideoNode:
    """Convert any supported clip to RGBS (full range, 0..1), as image models expect."""
    fmt = check_format(clip, "kizunasr")
    if fmt.id == vs.RGBS:
        return clip
    if fmt.color_family == vs.GRAY:
        gray = clip.resize.Point(format=vs.GRAYS, range_in=info.range, range=RANGE_FULL)
        return _gray_to_rgb(gray)
    return clip.resize.Bicubic(format=vs.RGBS, range=RANGE_FULL, **_zimg_in(info, fmt.color_family))


def to_gray_float(clip: vs.VideoNode, info: ColorInfo) -> vs.VideoNode:
    """The luma plane as GRAYS (full range, 0..1), for 1-channel models."""
    fmt = check_format(clip, "kizunasr")
    if fmt.color_family == vs.RGB:
        raise FilterError("a 1-channel (luma) model needs a YUV or GRAY clip; this clip is RGB")
    luma = clip if fmt.color_family == vs.GRAY else vs.core.std.ShufflePlanes(clip, 0, vs.GRAY)
    return luma.resize.Point(format=vs.GRAYS, range_in=info.range, range=RANGE_FULL)


def to_yuv444p16(clip: vs.VideoNode, info: ColorInfo) -> tuple[vs.VideoNode, int]:
    """Convert to YUV444P16 for vs-placebo; returns the clip and the matrix placebo must use.

    RGB input is carried as full-range BT.709 YUV, which libplacebo turns back into the same RGB.
    """
    fmt = check_format(clip, "kizunasr")
    if fmt.color_family == vs.RGB:
        out = clip.resize.Point(format=vs.YUV444P16, matrix=MATRIX_BT709, range=RANGE_FULL, range_in=RANGE_FULL)
        return out, MATRIX_BT709
    if fmt.color_family == vs.GRAY:
        luma = clip.resize.Point(format=vs.GRAY16, range_in=info.range, range=info.range)
        neutral = vs.core.std.BlankClip(luma, color=32768)
        out = vs.core.std.ShufflePlanes([luma, neutral, neutral], [0, 0, 0], vs.YUV)
        out = vs.core.std.SetFrameProps(out, _Range=info.range, _Matrix=info.matrix)
        return out, info.matrix
    out = clip.resize.Bicubic(format=vs.YUV444P16, matrix=info.matrix, range=info.range,
                              **_zimg_in(info, fmt.color_family))
    return out, info.matrix


def restore_format(
    clip: vs.VideoNode,
    original: vs.VideoFormat,
    info: ColorInfo,
    output_format: int | None = None,
) -> vs.VideoNode:
    """Convert a processed clip back to ``output_format`` or else the input's format family.

    The processed clip is RGB, GRAY or YUV444 in the colour space described by ``info`` (RGB
    full range; YUV/GRAY with ``info``'s matrix and range). Props are tagged to match.
    """
    target = vs.core.get_video_format(output_format if output_format is not None else original.id)
    src = check_format(clip, "kizunasr")
    if target.subsampling_w and clip.width % (1 << target.subsampling_w) or (
        target.subsampling_h and clip.height % (1 << target.subsampling_h)
    ):
        raise FilterError(
            f"output size {clip.width}x{clip.height} cannot be stored as {target.name} "
            "(subsampled chroma needs even sizes); pick an even width/height or a 4:4:4 output_format"
        )
    if src.id == target.id:
        return clip
    if target.color_family == vs.GRAY and src.color_family != vs.GRAY:
        if src.color_family == vs.RGB:
            luma_matrix = info.matrix if info.matrix != MATRIX_RGB else MATRIX_BT709
            clip = clip.resize.Bicubic(format=vs.YUV444PS, matrix=luma_matrix, range_in=RANGE_FULL)
        clip = vs.core.std.ShufflePlanes(clip, 0, vs.GRAY)
    elif target.color_family == vs.RGB and src.color_family == vs.GRAY:
        clip = _gray_to_rgb(clip.resize.Point(format=vs.GRAYS, range_in=_range_of(src, info), range=RANGE_FULL))
    src = clip.format
    args: dict[str, int] = {"range_in": _range_of(src, info), "range": _range_of(target, info)}
    if src.color_family != vs.GRAY:
        args["matrix_in"] = MATRIX_RGB if src.color_family == vs.RGB else info.matrix
    if target.color_family == vs.YUV:
        args.update(matrix=info.matrix, chromaloc=info.chroma_location)
        if src.color_family == vs.GRAY:
            raise FilterError(f"cannot turn a GRAY result into {target.name}; ask for a GRAY output_format")
    out = clip.resize.Bicubic(format=target.id, **args) if src.id != target.id else clip
    return vs.core.std.SetFrameProps(out, _Transfer=info.transfer, _Primaries=info.primaries)


def _range_of(fmt: vs.VideoFormat, info: ColorInfo) -> int:
    """RGB and float formats are full range; integer YUV/GRAY use the clip's range."""
    if fmt.color_family == vs.RGB or fmt.sample_type == vs.FLOAT:
        return RANGE_FULL
    return info.range


def _gray_to_rgb(gray: vs.VideoNode) -> vs.VideoNode:
    """Replicate a full-range float GRAY clip into RGB, tagged as RGB."""
    rgb = vs.core.std.ShufflePlanes([gray, gray, gray], [0, 0, 0], vs.RGB)
    return vs.core.std.SetFrameProps(rgb, _Matrix=MATRIX_RGB, _Range=RANGE_FULL)
