"""Colour conversion of kizunasr_vs.core.formats against an independent numpy BT.709/BT.601 reference."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.core import formats
from tests.vsarrays import clip_from_planes, planes_of

KR_KB = {"709": (0.2126, 0.0722), "601": (0.299, 0.114)}


def rgb_to_ycbcr(rgb: np.ndarray, standard: str) -> np.ndarray:
    """Full-scale Y in 0..1 and Cb/Cr in -0.5..0.5 from RGB 0..1 (the textbook equations)."""
    kr, kb = KR_KB[standard]
    r, g, b = rgb
    y = kr * r + (1 - kr - kb) * g + kb * b
    return np.stack([y, (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))])


def quantize_limited(ycbcr: np.ndarray, bits: int) -> np.ndarray:
    """Limited-range integer code values: Y 16..235, C 16..240, scaled to ``bits``."""
    scale = 1 << (bits - 8)
    y = np.round((16 + 219 * ycbcr[0]) * scale)
    c = np.round((128 + 224 * ycbcr[1:]) * scale)
    return np.concatenate([y[None], c]).astype(np.uint16)


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.uniform(0.05, 0.95, size=(3, 24, 32)).astype(np.float32)


@pytest.mark.parametrize("standard,matrix", [("709", 1), ("601", 6)])
def test_yuv444p16_to_rgbs_matches_numpy(rgb: np.ndarray, standard: str, matrix: int) -> None:
    yuv = quantize_limited(rgb_to_ycbcr(rgb, standard), 16)
    clip = clip_from_planes(list(yuv), vs.YUV444P16, _Matrix=matrix, _Range=0, _Transfer=1, _Primaries=1)
    info = formats.resolve_color(clip)
    out = np.stack(planes_of(formats.to_rgbs(clip, info)))
    assert np.abs(out - rgb).max() < 2e-4


@pytest.mark.parametrize("width,height,standard", [(32, 24, "601"), (1280, 720, "709")])
def test_missing_matrix_falls_back_by_size_and_logs_once(
    width: int, height: int, standard: str, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(1)
    small = rng.uniform(0.1, 0.9, size=(3, 8, 8)).astype(np.float32)
    rgb = np.tile(small, (1, height // 8, width // 8))
    yuv = quantize_limited(rgb_to_ycbcr(rgb, standard), 16)
    clip = clip_from_planes(list(yuv), vs.YUV444P16)  # no colour props at all
    formats._warned.clear()
    with caplog.at_level(logging.WARNING, logger="kizunasr"):
        info = formats.resolve_color(clip)
        formats.resolve_color(clip)
    assert info.range == formats.RANGE_LIMITED
    assert info.matrix == (formats.MATRIX_BT709 if standard == "709" else formats.MATRIX_BT601)
    assert len([r for r in caplog.records if "missing colour props" in r.message]) == 1
    out = np.stack(planes_of(formats.to_rgbs(clip, info)))
    assert np.abs(out - rgb).max() < 2e-4


def test_legacy_color_range_full_is_honoured(rgb: np.ndarray) -> None:
    ycbcr = rgb_to_ycbcr(rgb, "709")
    full = np.concatenate([np.round(ycbcr[:1] * 255), np.round(ycbcr[1:] * 255 + 128)]).clip(0, 255)
    clip = clip_from_planes(list(full), vs.YUV444P8, _Matrix=1, _ColorRange=0, _Transfer=1, _Primaries=1)
    info = formats.resolve_color(clip)
    assert info.range == formats.RANGE_FULL
    out = np.stack(planes_of(formats.to_rgbs(clip, info)))
    assert np.abs(out - rgb).max() < 6 / 255  # 8-bit quantisation of three components


def test_gray8_limited_range_to_rgbs() -> None:
    gray = np.array([[16, 235, 126]], dtype=np.uint8).repeat(4, axis=0)
    clip = clip_from_planes([gray], vs.GRAY8)
    info = formats.resolve_color(clip)
    out = np.stack(planes_of(formats.to_rgbs(clip, info)))
    expected = (gray.astype(np.float32) - 16) / 219
    for plane in out:
        np.testing.assert_allclose(plane, expected, atol=1e-5)


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.YUV422P16, vs.YUV444PH, vs.RGB24, vs.RGB48,
                                 vs.RGBS, vs.GRAY16])
def test_round_trip_returns_to_input_format_and_values(fmt: int) -> None:
    ys, xs = np.mgrid[0:24, 0:32].astype(np.float32)
    smooth = np.stack([0.2 + 0.6 * xs / 32, 0.8 - 0.5 * ys / 24, 0.5 + 0.3 * np.sin(xs / 6 + ys / 9)])
    clip = clip_from_planes(list(smooth), vs.RGBS, _Matrix=0, _Range=1, _Transfer=1, _Primaries=1)
    is_rgb = vs.core.get_video_format(fmt).color_family == vs.RGB
    source = clip.resize.Bicubic(format=fmt) if is_rgb else clip.resize.Bicubic(format=fmt, matrix=1)
    source = vs.core.std.SetFrameProps(source, UserProp=42)
    info = formats.resolve_color(source)
    back = formats.restore_format(formats.to_rgbs(source, info), source.format, info)
    assert back.format.id == fmt
    frame = back.get_frame(0)
    assert frame.props["UserProp"] == 42
    expected = planes_of(source)
    got = planes_of(back)
    sample = vs.core.get_video_format(fmt)
    tol = 2 if sample.sample_type == vs.INTEGER else 2e-3
    for e, g in zip(expected, got, strict=True):
        assert np.abs(e.astype(np.float64) - g.astype(np.float64)).max() <= tol * (
            1 if sample.sample_type == vs.FLOAT else 1 << max(0, sample.bits_per_sample - 8))


def test_yuv444p16_for_placebo_keeps_matrix(rgb: np.ndarray) -> None:
    yuv = quantize_limited(rgb_to_ycbcr(rgb, "601"), 10)
    clip = clip_from_planes(list(yuv), vs.YUV444P10, _Matrix=6, _Range=0, _Transfer=6, _Primaries=6)
    info = formats.resolve_color(clip)
    out, matrix = formats.to_yuv444p16(clip, info)
    assert matrix == 6 and out.format.id == vs.YUV444P16
    np.testing.assert_array_equal(np.stack(planes_of(out)), yuv.astype(np.uint32) << 6)


def test_unsupported_formats_raise_clear_errors() -> None:
    gray32 = vs.core.std.BlankClip(format=vs.core.query_video_format(vs.GRAY, vs.INTEGER, 32, 0, 0).id)
    with pytest.raises(vs.Error, match="bit depth 32"):
        formats.check_format(gray32, "test")
    variable = vs.core.std.BlankClip(varformat=True)
    with pytest.raises(vs.Error, match="variable format"):
        formats.check_format(variable, "test")


def test_odd_size_cannot_return_to_420() -> None:
    clip = vs.core.std.BlankClip(format=vs.RGBS, width=33, height=20)
    info = formats.ColorInfo(1, 1, 1, 0, 0)
    with pytest.raises(vs.Error, match="even"):
        formats.restore_format(clip, vs.core.get_video_format(vs.YUV420P8), info)
