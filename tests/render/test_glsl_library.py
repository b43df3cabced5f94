"""The hand-written GLSL shader library in glsl/: structure, vs-placebo (lavapipe) behaviour
against numpy references, compile checks in real mpv under Xvfb, mpv/vs-placebo agreement and
the fidelity report (bench/glsl_fidelity.py).

Every expected value comes from an independent reference: the input itself, an analytic image,
known pixel values of a documented formula, zimg kernels, or numpy statistics.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.core import metrics
from tests import glsl_helpers as h

core = vs.core

SHADERS = sorted(p.name for p in h.GLSL.glob("*.glsl"))
EXPECTED = {
    "kizuna_edge2x.glsl", "kizuna_antiring.glsl", "kizuna_antiring2x.glsl", "kizuna_linedarken.glsl",
    "kizuna_linethin.glsl", "kizuna_cas.glsl", "kizuna_deband.glsl", "kizuna_chroma_guided.glsl",
    "kizuna_passthrough.glsl",
}
# shaders that never move a value outside the range of the input's neighbourhood
NON_EXPANDING = {"kizuna_edge2x.glsl", "kizuna_antiring.glsl", "kizuna_antiring2x.glsl", "kizuna_cas.glsl",
                 "kizuna_deband.glsl", "kizuna_linethin.glsl", "kizuna_passthrough.glsl"}
TOL16 = 2e-3  # 16-bit planes + fp16 intermediate textures in libplacebo
# learned 2x networks (kizuna_cnn_x2_*): run only when enlarged; their weights keep a flat picture flat to within
# one 8-bit level (not exactly, as hand-written kernels that sum to one do), and they may overshoot on 1-pixel
# checkerboards like any sharp upscaler, within [0, 1]
LEARNED = {n for n in SHADERS if n.startswith("kizuna_cnn_x2_")}
LEARNED_FLAT_TOL = 0.5 / 255  # the whole frame, edges included: the networks repeat the edge pixels as padding

needs_placebo = pytest.mark.skipif(not hasattr(core, "placebo"), reason="vs-placebo is not installed")
needs_media = pytest.mark.skipif(not (h.MEDIA / "anime4k_bird_LR.png").is_file(),
                                 reason=f"test images not found in {h.MEDIA}")
# PSNR with 4 pixels cropped on every side (edge handling is not what these tests compare)
psnr = functools.partial(metrics.psnr, border=4)


def bird_lr(h0: int = 60, w0: int = 120, size: tuple[int, int] = (96, 160)) -> np.ndarray:
    """A crop of the provided 480x270 bird (RGB, [0, 1])."""
    return h.load_rgb(h.MEDIA / "anime4k_bird_LR.png")[h0:h0 + size[0], w0:w0 + size[1]]


def input_for(name: str, rgb: np.ndarray) -> tuple[vs.VideoNode, dict[str, object]]:
    """The clip (and size/placebo kwargs) that exercises the shader's passes in vs-placebo."""
    clip = h.rgb_to_yuv444(rgb)
    if name == "kizuna_chroma_guided.glsl":
        return core.resize.Bilinear(clip, format=vs.YUV420P16), {"chroma_loc": 1}
    if name == "kizuna_edge2x.glsl" or name in LEARNED:
        return clip, {"width": clip.width * 2, "height": clip.height * 2}
    if name == "kizuna_antiring.glsl":  # POSTKERNEL only runs when the main scaler upscales
        return clip, {"width": clip.width * 2, "height": clip.height * 2}
    return clip, {}


PASSTHROUGH = "//!HOOK MAIN\n//!BIND HOOKED\n//!DESC id\nvec4 hook() { return HOOKED_tex(HOOKED_pos); }\n"


# ---------------------------------------------------------------------------------------------
# File structure (text only)


def test_library_is_complete() -> None:
    assert set(SHADERS) >= EXPECTED, f"missing: {EXPECTED - set(SHADERS)}"
    assert (h.GLSL / "README.md").is_file()


@pytest.mark.parametrize("name", SHADERS)
def test_shader_file_structure(name: str) -> None:
    text = h.shader_text(name)
    header = text[: text.find("//!")]
    for key in ("What:", "Sources:", "Cost:"):
        assert key in header, f"{name}: header comment lacks '{key}'"
    # '//!' only ever starts a directive line (both parsers take the first '//!' anywhere)
    for m in re.finditer(r"//!", text):
        assert m.start() == 0 or text[m.start() - 1] == "\n", f"{name}: stray '//!' at offset {m.start()}"
    blocks = h.split_blocks(text)
    kinds = [b.kind for b in blocks]
    assert "PASS" in kinds
    if "PARAM" in kinds:  # PARAM blocks last: mpv 0.35 vo=gpu registers every pass before failing on them
        assert kinds.index("PARAM") > max(i for i, k in enumerate(kinds) if k == "PASS")
        assert "Knobs" in header
    params = h.param_defaults(text)
    fallbacks = h.ifndef_defaults(text)
    assert set(fallbacks) == set(params), f"{name}: #ifndef fallbacks {set(fallbacks)} != PARAMs {set(params)}"
    for b in blocks:
        if b.kind == "PARAM":
            pname = b.values("PARAM")[0]
            assert b.values("TYPE")[0] in ("float", "int")
            lo, hi = float(b.values("MINIMUM")[0]), float(b.values("MAXIMUM")[0])
            assert lo <= float(params[pname]) <= hi
            assert all(float(v) == float(params[pname]) for v in fallbacks[pname]), \
                f"{name}: #define default of {pname} differs from its PARAM default"
        else:  # every pass that uses a knob has its own fallback
            for pname in params:
                if re.search(rf"\b{pname}\b", b.body):
                    assert f"#ifndef {pname}" in b.body, f"{name}: pass {b.values('DESC')} lacks #ifndef {pname}"


# ---------------------------------------------------------------------------------------------
# vs-placebo: compiles, flat, range


@needs_placebo
def test_error_capture_sees_a_broken_shader() -> None:
    """The log check used below does catch a libplacebo compile error (frames come back unshaded)."""
    clip = h.gray_444(np.full((16, 16), 0.5))
    broken = PASSTHROUGH.replace("return", "int x = ; return")
    _, log = h.render_raw(clip, broken)
    assert h.placebo_errors(log)


@needs_placebo
def test_param_default_wins_over_define_fallback() -> None:
    """libplacebo defines each //!PARAM as a macro, so the #ifndef fallback (0.5) is skipped:
    a PARAM default of 0 turns the sharpener off."""
    x = np.arange(40)
    img = np.tile(0.5 + 0.05 * np.tanh((x - 20.0) / 1.5), (16, 1))
    text = h.with_params(h.shader_text("kizuna_cas.glsl"), {"cas_strength": 0.0})
    assert "#define cas_strength 0.5" in text
    out, log = h.render_raw(h.gray_444(img), text)
    assert not h.placebo_errors(log)
    assert np.abs(h.planes(out)[0] - img).max() < TOL16


@needs_placebo
@needs_media
@pytest.mark.parametrize("name", SHADERS)
def test_compiles_in_vs_placebo(name: str) -> None:
    clip, kw = input_for(name, bird_lr(size=(48, 64)))
    out, log = h.render_raw(clip, h.shader_text(name), **kw)
    assert not h.placebo_errors(log), h.placebo_errors(log)[:5]
    ref, log_ref = h.render_raw(clip, PASSTHROUGH, **kw)
    assert not h.placebo_errors(log_ref)
    diff = np.mean([np.abs(a - b).mean() for a, b in zip(h.planes(out), h.planes(ref), strict=True)])
    if name == "kizuna_passthrough.glsl":
        assert diff < 1e-4
        assert np.abs(h.planes(out)[0] - h.planes(clip)[0]).max() < TOL16
    else:  # the shader did something (a failed pass would leave the frame unshaded)
        assert diff > 2e-4, f"{name}: output equals the unshaded render"


@needs_placebo
@pytest.mark.parametrize("name", sorted(set(SHADERS) - LEARNED))
def test_flat_stays_flat(name: str) -> None:
    yuv = (0.62, 0.45, 0.56)
    if name == "kizuna_chroma_guided.glsl":
        clip = h.clip_420(np.full((16, 24), yuv[0]), np.full((8, 12), yuv[1]), np.full((8, 12), yuv[2]))
        out, log = h.render_raw(clip, h.shader_text(name), chroma_loc=1)
        assert not h.placebo_errors(log)
    else:
        clip = h.clip_444([np.full((16, 24), v) for v in yuv])
        _, kw = input_for(name, np.zeros((16, 24, 3)))
        out = h.run_shader(clip, name, width=kw.get("width"), height=kw.get("height"))
    for plane, value in zip(h.planes(out), yuv, strict=True):
        assert np.abs(plane - value).max() < TOL16, f"{name}: flat input changed"


@pytest.mark.slow
@needs_placebo
@pytest.mark.parametrize("name", sorted(LEARNED))
@pytest.mark.parametrize("luma", [0.1, 0.62, 0.9])
def test_learned_shader_keeps_flat_areas_flat(name: str, luma: float) -> None:
    """A flat field stays flat to half an 8-bit level everywhere, the outermost pixels included (edge padding: with
    zero padding they moved by up to 4 levels)."""
    yuv = (luma, 0.45, 0.56)
    out = h.run_shader(h.clip_444([np.full((64, 64), v) for v in yuv]), name, width=128, height=128)
    y = h.planes(out)[0]
    error = np.abs(y - luma)
    assert error.max() < LEARNED_FLAT_TOL, f"{name}: a flat field changed by {error.max() * 255:.2f} levels at " \
                                           f"{np.unravel_index(error.argmax(), error.shape)}"


@needs_placebo
@pytest.mark.parametrize("name", [n for n in SHADERS if n != "kizuna_chroma_guided.glsl"])
def test_output_stays_in_range(name: str) -> None:
    """Harsh grey test card in [0.1, 0.9]: non-expanding shaders stay inside the input range, the
    line darkener stays in [0, 0.9]; saturated colours stay inside the RGB cube (MAIN hooks)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:32, 0:48]
    card = np.where((xx // 2 + yy // 2) % 2 == 0, 0.1, 0.9)      # 2x2 checker
    card[:, 30:] = 0.1 + 0.8 * rng.random((32, 18))                # noise
    card[8, :] = 0.1
    card[:, 24] = 0.9                                              # 1-px lines
    _, kw = input_for(name, np.zeros((32, 48, 3)))
    size = {"width": kw.get("width"), "height": kw.get("height")}
    y = h.planes(h.run_shader(h.gray_444(card), name, **size))[0]
    low = 0.1 if name in NON_EXPANDING else 0.0
    high = 1.0 if name in LEARNED else 0.9
    assert y.min() >= low - TOL16 and y.max() <= high + TOL16, f"{name}: [{y.min()}, {y.max()}]"
    # colour: RGB from the output YUV (BT.709 full range) inside [0, 1] for the MAIN-hook filters
    if name in ("kizuna_cas.glsl", "kizuna_linedarken.glsl", "kizuna_linethin.glsl", "kizuna_antiring2x.glsl"):
        rgb = np.clip(rng.random((32, 48, 3)) * 1.4 - 0.2, 0, 1)
        yo, uo, vo = h.planes(h.run_shader(h.rgb_to_yuv444(rgb), name))
        r = yo + 1.5748 * (vo - 0.5)
        b = yo + 1.8556 * (uo - 0.5)
        g = (yo - 0.2126 * r - 0.0722 * b) / 0.7152
        for c in (r, g, b):
            assert c.min() > -0.01 and c.max() < 1.01


# ---------------------------------------------------------------------------------------------
# kizuna_edge2x


def lineart(h_: int = 96, w_: int = 96, ss: int = 4, seed: int = 1) -> np.ndarray:
    """Analytic anti-aliased line art: dark strokes at many angles + rings on two flat fills."""
    yy, xx = (np.mgrid[0:h_ * ss, 0:w_ * ss] + 0.5) / ss
    img = np.full(yy.shape, 0.85)
    img[(xx + 0.5 * yy) > 0.9 * w_] = 0.55
    rng = np.random.default_rng(seed)
    for _ in range(8):
        ang = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0.2, 0.8, 2) * (w_, h_)
        d = np.abs((xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang))
        along = np.abs(-(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang))
        img[(d < rng.uniform(0.8, 1.6)) & (along < w_ * 0.35)] = 0.08
    for _ in range(2):
        cx, cy = rng.uniform(0.3, 0.7, 2) * (w_, h_)
        img[np.abs(np.hypot(xx - cx, yy - cy) - rng.uniform(12, 30)) < 1.0] = 0.1
    return img.reshape(h_, ss, w_, ss).mean(axis=(1, 3))


@needs_placebo
@needs_media
def test_edge2x_beats_bilinear_on_real_image() -> None:
    hr = h.load_rgb(h.MEDIA / "anime4k_bird_HR.png")[120:312, 240:496]
    lr = h.load_rgb(h.MEDIA / "anime4k_bird_LR.png")[60:156, 120:248]
    truth = hr @ h.LUMA_709
    clip = h.rgb_to_yuv444(lr)
    up = h.planes(h.run_shader(clip, "kizuna_edge2x.glsl"))[0]
    bil = h.planes(core.resize.Bilinear(clip, clip.width * 2, clip.height * 2))[0]
    bic = h.planes(core.resize.Bicubic(clip, clip.width * 2, clip.height * 2, filter_param_a=0, filter_param_b=0.5))[0]
    scores = {"edge2x": psnr(up, truth), "bilinear": psnr(bil, truth), "bicubic": psnr(bic, truth)}
    print(scores)
    assert scores["edge2x"] > scores["bilinear"] + 0.3
    assert scores["edge2x"] > scores["bicubic"]


@needs_placebo
def test_edge2x_sharper_diagonals_than_bicubic() -> None:
    hr = lineart()
    lr = hr.reshape(48, 2, 48, 2).mean(axis=(1, 3))  # area downscale
    clip = h.gray_444(lr)
    up = h.planes(h.run_shader(clip, "kizuna_edge2x.glsl"))[0]
    scores = {"edge2x": psnr(up, hr)}
    for kernel, kw in (("Bilinear", {}), ("Bicubic", {"filter_param_a": 0, "filter_param_b": 0.5}),
                       ("Lanczos", {"filter_param_a": 3})):
        scores[kernel] = psnr(h.planes(getattr(core.resize, kernel)(clip, 96, 96, **kw))[0], hr)
    print(scores)
    assert scores["edge2x"] > scores["Bicubic"] + 0.3
    assert scores["edge2x"] > scores["Bilinear"] + 1.0
    # and no halo: never brighter than the fill or darker than the strokes
    assert up.min() >= lr.min() - TOL16 and up.max() <= lr.max() + TOL16


@needs_placebo
def test_edge2x_grid_alignment_on_a_ramp() -> None:
    """A linear ramp is reproduced exactly at the 2x pixel centres (no offset, no resample)."""
    w_, h_ = 32, 24
    xx = np.arange(w_) + 0.5
    yy = np.arange(h_)[:, None] + 0.5
    f = lambda x, y: 0.15 + 0.5 * x / w_ + 0.2 * y / h_  # noqa: E731
    clip = h.gray_444(f(xx[None, :], yy))
    up = h.planes(h.run_shader(clip, "kizuna_edge2x.glsl"))[0]
    X = (np.arange(2 * w_) + 0.5) / 2
    Y = (np.arange(2 * h_)[:, None] + 0.5) / 2
    expected = f(X[None, :], Y)
    assert np.abs(up - expected)[6:-6, 6:-6].max() < TOL16


@needs_placebo
@pytest.mark.parametrize("angle", [0.0, 30.0, 45.0])
def test_edge2x_does_not_ring(angle: float) -> None:
    yy, xx = (np.mgrid[0:32 * 4, 0:32 * 4] + 0.5) / 4
    t = np.radians(angle)
    img = np.where((xx - 16) * np.cos(t) + (yy - 16) * np.sin(t) > 0, 0.8, 0.2)
    lr = img.reshape(32, 4, 32, 4).mean(axis=(1, 3))
    clip = h.gray_444(lr)
    up = h.planes(h.run_shader(clip, "kizuna_edge2x.glsl"))[0]
    lz = h.planes(core.resize.Lanczos(clip, 64, 64, filter_param_a=3))[0]
    assert lz.min() < 0.2 - 0.01 or lz.max() > 0.8 + 0.01  # the test image does make lanczos ring
    assert up.min() >= lr.min() - 2e-4 and up.max() <= lr.max() + 2e-4


# ---------------------------------------------------------------------------------------------
# anti-ringing


def step_image(w_: int = 32, h_: int = 16) -> np.ndarray:
    return np.where(np.arange(w_) < w_ // 2, 0.2, 0.8)[None, :].repeat(h_, 0)


@needs_placebo
def test_antiring_clamps_the_main_scaler() -> None:
    clip = h.gray_444(step_image())
    size = {"width": 64, "height": 32}
    plain = h.planes(h.run_shader(clip, "kizuna_passthrough.glsl", **size))[0]  # vs-placebo's ewa_lanczos
    assert plain.min() < 0.19 and plain.max() > 0.81
    clamped = h.planes(h.run_shader(clip, "kizuna_antiring.glsl", **size))[0]
    assert clamped.min() >= 0.2 - 5e-4 and clamped.max() <= 0.8 + 5e-4
    # away from the edge nothing changes; strength 0 = the plain scaler
    assert np.abs(clamped[:, :20] - 0.2).max() < TOL16
    off = h.planes(h.run_shader(clip, "kizuna_antiring.glsl", params={"antiring_strength": 0.0}, **size))[0]
    assert np.abs(off - plain).max() < TOL16


@needs_placebo
def test_antiring2x_reduces_prescaler_overshoot() -> None:
    clip = h.gray_444(step_image())
    ringing = core.resize.Lanczos(clip, 64, 32, filter_param_a=3)  # a "2x prescaler" that rings
    before = h.planes(ringing)[0]
    after = h.planes(h.run_shader(ringing, "kizuna_antiring2x.glsl"))[0]
    over = lambda y: max(0.2 - y.min(), y.max() - 0.8)  # noqa: E731
    assert over(before) > 0.04
    assert over(after) < 0.35 * over(before)
    # a smooth 2x (no ringing) passes unchanged
    ramp = core.resize.Bilinear(h.gray_444(np.tile(np.linspace(0.2, 0.8, 32), (16, 1))), 64, 32)
    r0 = h.planes(ramp)[0]
    r1 = h.planes(h.run_shader(ramp, "kizuna_antiring2x.glsl"))[0]
    assert np.abs(r1 - r0)[2:-2, 2:-2].max() < TOL16


# ---------------------------------------------------------------------------------------------
# line darkening / thinning, sharpening


def line_card() -> np.ndarray:
    img = np.full((24, 40), 0.8)
    img[:, 8] = 0.3              # 1-px line
    img[:, 16:18] = 0.3          # 2-px line
    img[:, 30:] = 0.4            # plain step edge at x = 30
    return img


@needs_placebo
def test_linedarken_known_values() -> None:
    img = line_card()
    y = h.planes(h.run_shader(h.gray_444(img), "kizuna_linedarken.glsl"))[0]
    # documented formula: V = 0.8 - 0.3 = 0.5 >= 2 * threshold, so
    # l' = max(l - s * V, l * (1 - s)) = max(0.3 - 0.25, 0.15) = 0.15 for s = 0.5
    assert np.abs(y[:, 8] - 0.15).max() < TOL16
    assert np.abs(y[:, 16:18] - 0.15).max() < TOL16
    # fills, the bright side of lines and both sides of the step edge are untouched
    untouched = np.ones(img.shape, bool)
    untouched[:, [8, 16, 17]] = False
    assert np.abs(y - img)[untouched].max() < TOL16
    y2 = h.planes(h.run_shader(h.gray_444(img), "kizuna_linedarken.glsl",
                               params={"linedarken_strength": 0.2}))[0]
    assert np.abs(y2[:, 8] - max(0.3 - 0.2 * 0.5, 0.3 * 0.8)).max() < TOL16  # = 0.24
    # grain below the threshold (any two pixels differ by < 0.015 < 0.03) is left alone
    noisy = 0.5 + np.random.default_rng(1).uniform(-0.007, 0.007, (24, 40))
    y3 = h.planes(h.run_shader(h.gray_444(noisy), "kizuna_linedarken.glsl"))[0]
    assert np.abs(y3 - noisy).max() < TOL16


@needs_placebo
def test_linethin_thins_soft_lines() -> None:
    x = np.arange(40)
    profile = 0.8 - 0.7 * np.exp(-0.5 * ((x - 20.3) / 1.3) ** 2)
    img = np.tile(profile, (16, 1))
    y = h.planes(h.run_shader(h.gray_444(img), "kizuna_linethin.glsl"))[0]
    row_in, row_out = img[8], y[8]
    assert (row_out >= row_in - TOL16).all()                         # never darkens
    assert abs(row_out[20] - row_in[20]) < TOL16                      # the core keeps its value
    assert np.abs(row_out[:12] - row_in[:12]).max() < TOL16           # the fill is untouched
    darkness = lambda r: float((0.8 - r).sum())  # noqa: E731
    assert darkness(row_out) < 0.85 * darkness(row_in)
    half = lambda r: int((r < (0.8 + r.min()) / 2).sum())  # noqa: E731  # width at half depth
    assert half(row_out) < half(row_in)
    off = h.planes(h.run_shader(h.gray_444(img), "kizuna_linethin.glsl", params={"linethin_strength": 0.0}))[0]
    assert np.abs(off - img).max() < TOL16


@needs_placebo
def test_cas_sharpens_soft_detail_within_local_range() -> None:
    x = np.arange(40)
    soft = 0.5 + 0.05 * np.tanh((x - 20.0) / 1.5)                      # soft low-contrast edge
    img = np.tile(soft, (16, 1))
    img[:, 32] = 0.2                                                   # a hard line (range 0.35 + )
    y = h.planes(h.run_shader(h.gray_444(img), "kizuna_cas.glsl"))[0]
    grad_in = np.abs(np.diff(img[8, 10:30])).max()
    grad_out = np.abs(np.diff(y[8, 10:30])).max()
    assert grad_out > 1.1 * grad_in
    # within the 3x3 min/max of the input (numpy reference)
    pad = np.pad(img, 1, mode="edge")
    stack = np.stack([pad[j:j + 16, i:i + 40] for j in range(3) for i in range(3)])
    assert (y >= stack.min(0) - TOL16).all() and (y <= stack.max(0) + TOL16).all()
    off = h.planes(h.run_shader(h.gray_444(img), "kizuna_cas.glsl", params={"cas_strength": 0.0}))[0]
    assert np.abs(off - img).max() < TOL16


# ---------------------------------------------------------------------------------------------
# kizuna_deband


@needs_placebo
def test_deband_smooths_banding() -> None:
    truth = np.tile(np.linspace(0.30, 0.35, 160), (48, 1))
    banded = np.round(truth * 255) / 255
    y = h.planes(h.run_shader(h.gray_444(banded), "kizuna_deband.glsl"))[0]
    err_in = np.abs(banded - truth)[:, 24:-24].mean()
    err_out = np.abs(y - truth)[:, 24:-24].mean()
    assert err_out < err_in / 3, (err_in, err_out)


@needs_placebo
def test_deband_keeps_line_art_edges() -> None:
    truth = np.tile(np.linspace(0.30, 0.33, 64), (32, 1))
    img = np.round(truth * 255) / 255
    img[:, 40:] = 0.9                      # step edge
    img[:, 20] = 0.1                       # 1-px line
    img[:, 28:30] = [0.2, 0.6]             # anti-aliased 2-px line edge
    y = h.planes(h.run_shader(h.gray_444(img), "kizuna_deband.glsl"))[0]
    for cols in ([19, 20, 21], [27, 28, 29, 30], [39, 40, 41]):
        assert np.abs(y[:, cols] - img[:, cols]).max() < 4 / 255
    assert abs((y[:, 40] - y[:, 39]).mean() - (img[:, 40] - img[:, 39]).mean()) < 4 / 255


@needs_placebo
@needs_media
def test_deband_keeps_real_edges() -> None:
    clip = h.rgb_to_yuv444(bird_lr())
    y0 = h.planes(clip)[0]
    y1 = h.planes(h.run_shader(clip, "kizuna_deband.glsl"))[0]
    gx0, gx1 = np.abs(np.diff(y0, axis=1)), np.abs(np.diff(y1, axis=1))
    strong = gx0 > 0.08                                  # line-art / contour edges of the image
    assert strong.sum() > 100
    ratio = gx1[strong].mean() / gx0[strong].mean()
    assert ratio > 0.98, ratio


@needs_placebo
def test_deband_grain_param() -> None:
    flat = np.full((32, 32), 0.5)
    y = h.planes(h.run_shader(h.gray_444(flat), "kizuna_deband.glsl", params={"deband_grain": 0.02}))[0]
    assert 0.002 < y.std() < 0.02
    assert abs(y.mean() - 0.5) < 1e-3


# ---------------------------------------------------------------------------------------------
# kizuna_chroma_guided (CHROMA hook, YUV420P16 straight into placebo.Shader)


def cels(h_: int = 64, w_: int = 96, ss: int = 4, seed: int = 3) -> np.ndarray:
    """Anime-like test card: flat colour cells with dark anti-aliased outlines (RGB)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (10, 2)) * (w_, h_)
    cols = rng.uniform(0.1, 0.95, (10, 3))
    yy, xx = (np.mgrid[0:h_ * ss, 0:w_ * ss] + 0.5) / ss
    d = np.stack([np.hypot(xx - px, yy - py) for px, py in pts])
    near = np.sort(d, axis=0)
    img = cols[np.argmin(d, axis=0)]
    img[(near[1] - near[0]) < 1.2] = 0.08
    return img.reshape(h_, ss, w_, ss, 3).mean(axis=(1, 3))


def chroma_scores(rgb: np.ndarray, siting: int) -> dict[str, float]:
    """Mean U/V PSNR vs the true 4:4:4 chroma: zimg bilinear vs the guided shader."""
    c444 = h.rgb_to_yuv444(rgb)
    _, u, v = h.planes(c444)
    c420 = core.resize.Bicubic(c444, format=vs.YUV420P16, chromaloc=siting)
    c420 = core.std.SetFrameProps(c420, _ChromaLocation=siting)
    bil = h.planes(core.resize.Bilinear(c420, format=vs.YUV444P16, chromaloc_in=siting))
    out, log = h.render_raw(c420, h.shader_text("kizuna_chroma_guided.glsl"), chroma_loc=siting + 1)
    assert not h.placebo_errors(log)
    guided = h.planes(out)
    score = lambda p: float(np.mean([psnr(p[1], u), psnr(p[2], v)]))  # noqa: E731
    return {"bilinear": score(bil), "guided": score(guided)}


@needs_placebo
@pytest.mark.parametrize("siting", [0, 1], ids=["left", "center"])
def test_chroma_guided_beats_bilinear_on_cels(siting: int) -> None:
    s = chroma_scores(cels(), siting)
    print(s)
    assert s["guided"] > s["bilinear"] + 1.0


@needs_placebo
@needs_media
def test_chroma_guided_beats_bilinear_on_real_image() -> None:
    s = chroma_scores(h.load_rgb(h.MEDIA / "anime4k_bird_HR.png")[100:228, 300:492], 0)
    print(s)
    assert s["guided"] > s["bilinear"]


@needs_placebo
def test_chroma_guided_follows_luma() -> None:
    """Chroma an exact linear function of luma: the guided result is far closer than bilinear."""
    yy, xx = np.mgrid[0:48, 0:64].astype(float)
    y = np.where((xx - 0.7 * yy) > 20, 0.8, 0.3) + 0.1 * np.sin(xx / 5)
    u, v = 0.3 + 0.4 * y, 0.7 - 0.3 * y
    c444 = h.clip_444([y, u, v])
    c420 = core.resize.Bilinear(c444, format=vs.YUV420P16, chromaloc=1)
    bil = h.planes(core.resize.Bilinear(c420, format=vs.YUV444P16, chromaloc_in=1))
    out, log = h.render_raw(c420, h.shader_text("kizuna_chroma_guided.glsl"), chroma_loc=2)
    assert not h.placebo_errors(log)
    g = h.planes(out)
    assert psnr(g[1], u) > psnr(bil[1], u) + 3 and psnr(g[2], v) > psnr(bil[2], v) + 3


# ---------------------------------------------------------------------------------------------
# mpv (vo=gpu, OpenGL llvmpipe) under Xvfb


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    reason = h.have_mpv()
    if reason:
        pytest.skip(reason)
    with h.xvfb() as disp:
        yield disp


@pytest.fixture(scope="module")
def mpv_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 64x48 RGB PNG (hooks RGB / MAIN) and a 4:2:0 Y4M (hooks LUMA / CHROMA / MAIN)."""
    from PIL import Image

    d = tmp_path_factory.mktemp("mpv")
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([(xx * 4) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], axis=-1).astype(np.uint8)
    rgb[:, 30:32] = 20
    Image.fromarray(rgb).save(d / "card.png")
    y = (40 + (xx * 3 + yy * 2) % 180).astype(np.uint8)
    y[20:22, :] = 16
    u = np.full((24, 32), 100, np.uint8)
    v = (110 + (np.arange(32)[None, :] * 2)).repeat(24, 0).astype(np.uint8)
    h.write_y4m(d / "card.y4m", [y, u, v], chroma="420mpeg2", full_range=False)
    return {"png": d / "card.png", "y4m": d / "card.y4m", "dir": d}


def _mpv_pass_coverage(display: str, media: dict[str, Path], shaders: list[Path], vo: str,
                       expect_param_notice: bool) -> tuple[set[str], list[str], list[str]]:
    seen: set[str] = set()
    errors: list[str] = []
    logs: list[str] = []
    for key in ("png", "y4m"):
        run = h.run_mpv(display, media[key], shaders, media["dir"], vo=vo, extra=["--window-scale=2"])
        assert run.returncode == 0, run.log[-2000:]
        errors += h.mpv_errors(run.log)
        logs.append(run.log)
        src = h.mpv_compiled_source(run.log)
        for desc, lines in h.pass_bodies(shaders[-1].read_text()):
            if all(line in src for line in lines):
                seen.add(desc)
    if expect_param_notice:
        assert any(h.MPV_PARAM_NOTICE.search(log) for log in logs)
    return seen, errors, logs


def test_mpv_error_check_sees_a_broken_shader(display: str, mpv_media: dict[str, Path]) -> None:
    broken = mpv_media["dir"] / "broken.glsl"
    broken.write_text(PASSTHROUGH.replace("return", "int x = ; return"))
    run = h.run_mpv(display, mpv_media["png"], [broken], mpv_media["dir"])
    assert h.mpv_errors(run.log)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHADERS)
def test_compiles_in_mpv(display: str, mpv_media: dict[str, Path], name: str) -> None:
    """Every pass compiles in mpv's vo=gpu (its GLSL source shows up in the debug log, with no
    compile / parse errors). mpv 0.35 logs "Unrecognized command 'PARAM ...'" and still runs all
    passes (the PARAM blocks are last); that notice is expected there and nothing else."""
    text = h.shader_text(name)
    shaders = [h.GLSL / name]
    if name == "kizuna_antiring2x.glsl":
        shaders.insert(0, h.GLSL / "kizuna_edge2x.glsl")
    has_params = bool(h.param_defaults(text))
    old_mpv = h.mpv_version() < (0, 36)
    seen, errors, _ = _mpv_pass_coverage(display, mpv_media, shaders, "gpu", has_params and old_mpv)
    assert not errors, errors[:5]
    expected = {desc for desc, _ in h.pass_bodies(text)}
    assert seen == expected, f"passes not compiled by mpv: {expected - seen}"


@pytest.mark.slow
@pytest.mark.parametrize("name", SHADERS)
def test_param_stripped_copy_loads_in_gpu_next(display: str, mpv_media: dict[str, Path], name: str,
                                               tmp_path: Path) -> None:
    """README recipe for libplacebo without //!PARAM (mpv 0.35 vo=gpu-next on Debian 12):
    the copy without the PARAM blocks registers every pass and logs no shader error."""
    if h.mpv_version() >= (0, 36):
        pytest.skip("mpv >= 0.36 supports //!PARAM directly")
    copy = tmp_path / name
    copy.write_text(h.strip_params(h.shader_text(name)))
    shaders = [copy]
    if name == "kizuna_antiring2x.glsl":
        edge = tmp_path / "kizuna_edge2x.glsl"
        edge.write_text(h.strip_params(h.shader_text("kizuna_edge2x.glsl")))
        shaders.insert(0, edge)
    run = h.run_mpv(display, mpv_media["y4m"], shaders, mpv_media["dir"], vo="gpu-next",
                    extra=["--window-scale=2"])
    if "gpu-next" not in run.log or "Registering hook pass" not in run.log:
        pytest.skip("vo=gpu-next not available in this mpv build")
    assert run.returncode == 0
    assert not h.mpv_errors(run.log, allow_param_notice=False), h.mpv_errors(run.log)[:5]
    registered = run.log.count("Registering hook pass")
    assert registered == sum(len(h.pass_bodies(s.read_text())) for s in shaders)


@needs_placebo
@needs_media
@pytest.mark.parametrize("mode", ["edge2x", "linedarken+cas"])
def test_mpv_and_vs_placebo_agree(display: str, mpv_media: dict[str, Path], mode: str) -> None:
    """The same shader file gives the same pixels in mpv (OpenGL, #define defaults) and in
    vs-placebo (Vulkan, //!PARAM defaults), on a full-range grey 4:4:4 Y4M (so RGB = Y)."""
    g8 = np.rint(bird_lr(100, 200, (48, 64)) @ h.LUMA_709 * 255).astype(np.uint8)
    src = mpv_media["dir"] / f"grey_{mode}.y4m"
    h.write_y4m(src, [g8, np.full_like(g8, 128), np.full_like(g8, 128)], chroma="444", full_range=True)
    names = ["kizuna_edge2x.glsl"] if mode == "edge2x" else ["kizuna_linedarken.glsl", "kizuna_cas.glsl"]
    extra = ["--dither-depth=no", "--osd-level=0", "--no-osc"]
    if mode == "edge2x":  # window at exactly 2x: no main scaling after the LUMA hook
        run = h.run_mpv(display, src, [h.GLSL / n for n in names], mpv_media["dir"],
                        extra=[*extra, "--window-scale=2"], mode="window")
    else:
        run = h.run_mpv(display, src, [h.GLSL / n for n in names], mpv_media["dir"], extra=extra)
    assert run.screenshot is not None, run.log[-2000:]
    from PIL import Image

    with Image.open(run.screenshot) as im:
        shot = np.asarray(im.convert("RGB"), dtype=np.float64)[..., 0] / 255
    ref = h.gray_444(g8 / 255.0)
    for n in names:
        ref = h.run_shader(ref, n)
    y = h.planes(ref)[0]
    assert shot.shape == y.shape
    d = np.abs(shot - y)
    assert d.mean() < 0.5 / 255 and d.max() < 2.5 / 255, (d.mean() * 255, d.max() * 255)
    # and the shader did change the picture (the comparison is not trivially passing)
    base = np.kron(g8 / 255.0, np.ones((2, 2))) if mode == "edge2x" else g8 / 255.0
    assert np.abs(shot - base).mean() > 2 / 255


# ---------------------------------------------------------------------------------------------
# Fidelity report


@pytest.mark.slow
@needs_placebo
@needs_media
def test_fidelity_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(h.REPO / "bench"))  # its `common` helper, as `python bench/...` finds it
    spec = importlib.util.spec_from_file_location("glsl_fidelity", h.REPO / "bench" / "glsl_fidelity.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["glsl_fidelity"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    cases = mod.load_cases(h.MEDIA, mod.DEFAULT_IMAGES, max_size=256)
    results = mod.evaluate(cases)
    print("\n" + mod.format_table(results))
    for case in cases:
        assert results["chain"][case.name][0] >= results["bilinear"][case.name][0]
        assert results["edge2x"][case.name][0] >= results["bilinear"][case.name][0]
