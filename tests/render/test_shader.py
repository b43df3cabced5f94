"""kizunasr_vs.shader on real vs-placebo (lavapipe), checked against independent numpy references.

Tolerance: libplacebo keeps its intermediate textures (the merged input planes, MAIN and each
hook's output) in 16-bit float, and each store was measured to be off by up to one ulp (an
identity shader on a 16-bit grey ramp: max error 2**-11 of full scale in [0.5, 1)). A half
float ulp is 2**-11 = 4.9e-4 in [0.5, 1); RGB picks up the Y, Cb and Cr errors through the
matrix (R = Y + 1.57 Cr) before its own store, so the worst case is about four ulps. ``TOL`` is
therefore 2e-3 of full scale, plus one code value for the final rounding to an integer format.
Observed: up to 1.1e-3 (75 codes of 16-bit) on RGB48 round trips, 3e-4 to 5e-4 typical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.render import source as ss
from kizunasr_vs.render.placebo import shader
from tests.vsarrays import clip_from_planes, planes_of

core = vs.core

TOL = 2e-3
H, W = 12, 16

INVERT = """//!HOOK MAIN
//!BIND HOOKED
//!DESC invert
vec4 hook() {
    vec4 c = HOOKED_tex(HOOKED_pos);
    return vec4(1.0 - c.rgb, c.a);
}
"""
DOUBLE = """//!HOOK MAIN
//!BIND HOOKED
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *
//!DESC nearest 2x
vec4 hook() {
    return texelFetch(HOOKED_raw, ivec2(gl_FragCoord.xy) / 2, 0) * HOOKED_mul;
}
"""
RED_TO_GRAY = """//!HOOK MAIN
//!BIND HOOKED
vec4 hook() {
    vec4 c = HOOKED_tex(HOOKED_pos);
    return vec4(c.r, c.r, c.r, c.a);
}
"""
SCALE = """//!PARAM strength
//!DESC gain
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 2.0
1.0

//!HOOK MAIN
//!BIND HOOKED
//!DESC gain
vec4 hook() {
    vec4 c = HOOKED_tex(HOOKED_pos);
    return vec4(c.rgb * strength, c.a);
}
"""
BROKEN = """//!HOOK MAIN
//!BIND HOOKED
//!DESC broken
vec4 hook() {
    return foo;
}
"""
DISPLAY_SIZED = """//!HOOK MAIN
//!BIND HOOKED
//!WIDTH OUTPUT.w
//!HEIGHT OUTPUT.h
vec4 hook() { return HOOKED_tex(HOOKED_pos); }
"""
KR_KB = {1: (0.2126, 0.0722), 6: (0.299, 0.114)}  # _Matrix -> (Kr, Kb)


def random_rgb(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(3, H, W))


def rgb_to_ycbcr(rgb: np.ndarray, matrix: int) -> np.ndarray:
    """Y in 0..1, Cb/Cr in -0.5..0.5 from RGB 0..1 (the textbook equations)."""
    kr, kb = KR_KB[matrix]
    r, g, b = rgb
    y = kr * r + (1 - kr - kb) * g + kb * b
    return np.stack([y, (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))])


def assert_close(out: np.ndarray, ref: np.ndarray, peak: float) -> None:
    """Integer formats: TOL of full scale plus one code; float formats: TOL."""
    slack = 0.0 if peak == 1.0 else 1.0
    err = np.abs(out.astype(np.float64) - ref)
    assert err.max() <= TOL * peak + slack, f"max error {err.max()} (peak {peak})"


def yuv_codes(bits: int, full: bool) -> tuple[float, float, float]:
    """(Y black, Y white, chroma neutral) code values, zimg's convention for limited range."""
    if full:
        return 0.0, float((1 << bits) - 1), float(1 << (bits - 1))
    scale = 1 << (bits - 8)
    return 16.0 * scale, 235.0 * scale, 128.0 * scale


# --------------------------------------------------------------------------------------------
# Pixel values


@pytest.mark.parametrize("fmt,peak", [(vs.RGB24, 255), (vs.RGB48, 65535), (vs.RGBS, 1.0)])
def test_invert_rgb(fmt: int, peak: float) -> None:
    rgb = random_rgb()
    planes = rgb.astype(np.float32) if peak == 1.0 else np.round(rgb * peak)
    out = shader(clip_from_planes(list(planes), fmt), INVERT)
    assert out.format.id == fmt and (out.width, out.height) == (W, H)
    assert_close(np.stack(planes_of(out)), peak - planes, peak)


@pytest.mark.parametrize(
    "fmt,bits,props",
    [
        (vs.YUV420P8, 8, {"_Matrix": 6, "_Range": 0}),
        (vs.YUV420P10, 10, {"_Matrix": 1, "_Range": 0}),
        (vs.YUV444P16, 16, {"_Matrix": 1, "_Range": 0}),
        (vs.YUV444P16, 16, {"_Matrix": 6, "_Range": 1}),
    ],
)
def test_invert_yuv(fmt: int, bits: int, props: dict[str, int]) -> None:
    """Inverting RGB reflects Y about (black + white) / 2 and Cb/Cr about neutral, for any matrix.

    Pixels are in the RGB gamut (out-of-gamut values are stored in half floats above 1.0, where
    the rounding doubles). 4:2:0 chroma is flat: chroma resampling up and back is no identity.
    """
    black, white, neutral = yuv_codes(bits, props["_Range"] == 1)
    cscale = float((1 << bits) - 1) if props["_Range"] == 1 else 224.0 * (1 << (bits - 8))
    if fmt == vs.YUV444P16:
        ycc = rgb_to_ycbcr(random_rgb(2), props["_Matrix"])
    else:
        luma = np.random.default_rng(2).uniform(0.25, 0.75, size=(H, W))
        ycc = np.stack([luma, np.full((H, W), -0.05), np.full((H, W), 0.08)])
    y = np.round(black + ycc[0] * (white - black))
    c = [np.round(neutral + plane * cscale) for plane in ycc[1:]]
    if fmt != vs.YUV444P16:
        c = [plane[::2, ::2] for plane in c]
    out = planes_of(shader(clip_from_planes([y, *c], fmt, **props), INVERT))
    peak = float((1 << bits) - 1)
    assert_close(out[0], black + white - y, peak)
    for plane, ref in zip(out[1:], c, strict=True):
        assert_close(plane, 2 * neutral - ref, peak)


def test_invert_gray8() -> None:
    y = np.random.default_rng(3).integers(16, 236, size=(H, W))
    out = shader(clip_from_planes([y], vs.GRAY8), INVERT)
    assert out.format.id == vs.GRAY8
    assert_close(planes_of(out)[0], 16 + 235 - y, 255)


@pytest.mark.parametrize("matrix,full", [(1, False), (6, False), (1, True)])
def test_matrix_reaches_libplacebo(matrix: int, full: bool) -> None:
    """Copying R into G and B: Y' = R = Y + 2 (1 - Kr) Cr, chroma neutral (numpy's BT.709/601)."""
    kr, _ = KR_KB[matrix]
    rng = np.random.default_rng(4)
    yn = rng.uniform(0.2, 0.6, size=(H, W))
    crn = rng.uniform(-0.1, 0.15, size=(H, W))
    black, white, neutral = yuv_codes(16, full)
    cscale = 65535.0 if full else 224.0 * 256
    planes = [np.round(black + yn * (white - black)), np.full((H, W), neutral), np.round(neutral + crn * cscale)]
    clip = clip_from_planes(planes, vs.YUV444P16, _Matrix=matrix, _Range=int(full))
    out = planes_of(shader(clip, RED_TO_GRAY))
    y = (planes[0] - black) / (white - black)
    cr = (planes[2] - neutral) / cscale
    red = y + 2 * (1 - kr) * cr
    assert_close(out[0], black + red * (white - black), 65535)
    assert_close(out[2], np.full((H, W), neutral), 65535)


# --------------------------------------------------------------------------------------------
# Sizes


def test_double_rgb24_repeats_each_pixel() -> None:
    rgb = np.round(random_rgb(5) * 255)
    out = shader(clip_from_planes(list(rgb), vs.RGB24), DOUBLE)
    assert (out.width, out.height) == (2 * W, 2 * H)
    assert_close(np.stack(planes_of(out)), rgb.repeat(2, axis=1).repeat(2, axis=2), 255)


def test_double_yuv420p10_returns_yuv420p10() -> None:
    y = np.random.default_rng(6).integers(64, 941, size=(H, W))
    c = [np.full((H // 2, W // 2), 400), np.full((H // 2, W // 2), 600)]
    out = shader(clip_from_planes([y, *c], vs.YUV420P10, _Matrix=1, _Range=0), DOUBLE)
    assert out.format.id == vs.YUV420P10 and (out.width, out.height) == (2 * W, 2 * H)
    planes = planes_of(out)
    assert_close(planes[0], y.repeat(2, axis=0).repeat(2, axis=1), 1023)
    for plane, ref in zip(planes[1:], c, strict=True):
        assert plane.shape == (H, W)
        assert_close(plane, np.full((H, W), ref[0, 0]), 1023)


def test_chain_inverts_then_doubles() -> None:
    rgb = np.round(random_rgb(7) * 255)
    out = shader(clip_from_planes(list(rgb), vs.RGB24), [INVERT, DOUBLE])
    assert (out.width, out.height) == (2 * W, 2 * H)
    assert_close(np.stack(planes_of(out)), (255 - rgb).repeat(2, axis=1).repeat(2, axis=2), 255)


def _gain(factor: float) -> str:
    return (f"//!HOOK MAIN\n//!BIND HOOKED\n//!DESC gain {factor}\n"
            f"vec4 hook() {{ vec4 c = HOOKED_tex(HOOKED_pos); return vec4(c.rgb * {factor}, c.a); }}\n")


def test_chain_keeps_values_above_white_between_shaders() -> None:
    """Like mpv, the shaders of one call share one render: a value above white made by the first reaches the
    second. With merge=False each renders on its own and the YUV444P16 round trip between them clips it
    (in YUV: no per-channel reference, but far from the input)."""
    rgb = np.round(random_rgb(9) * 255)
    clip = clip_from_planes(list(rgb), vs.RGB24)
    one_render = np.stack(planes_of(shader(clip, [_gain(2.0), _gain(0.5)])))
    assert_close(one_render, rgb, 255)
    one_by_one = np.stack(planes_of(shader(clip, [_gain(2.0), _gain(0.5)], merge=False)))
    assert np.abs(one_by_one - rgb).max() > 40


def test_shipped_shaders_merge_into_one_file_libplacebo_accepts() -> None:
    """The shaders in glsl/ (comment preambles, PARAM blocks last) chain into one file without errors."""
    from kizunasr_vs.render.merge import can_share_render, merged_text
    from kizunasr_vs.render.placebo import _Render, _validation_error

    names = ["kizuna_deband.glsl", "kizuna_edge2x.glsl", "kizuna_linedarken.glsl", "kizuna_cas.glsl"]
    sources = [ss.load_shader(shader_path(name)) for name in names]
    assert can_share_render([src.text for src in sources])
    merged = ss.ShaderSource("merged", merged_text([src.text for src in sources]))
    assert _validation_error(merged, _Render(2, 1, 0), 2.0, 2.0) is None
    expected = {p.name: p.default for src in sources for p in ss.parse_params(src.text)}
    assert {p.name: p.default for p in ss.parse_params(merged.text)} == expected


HALVE_LUMA = "//!HOOK LUMA\n//!BIND HOOKED\nvec4 hook() { return HOOKED_tex(HOOKED_pos) * vec4(0.5, 1.0, 1.0, 1.0); }\n"


def _grey_yuv(seed: int) -> tuple[np.ndarray, vs.VideoNode]:
    y = np.round(random_rgb(seed)[0] * 219 + 16)
    return y, clip_from_planes([y, np.full_like(y, 128), np.full_like(y, 128)], vs.YUV444P8, _Matrix=1, _Range=0)


def test_luma_shader_after_main_shader_keeps_list_order() -> None:
    """One render would run a LUMA hook before a MAIN hook: listed after one, it renders on its own, after it."""
    y, clip = _grey_yuv(11)
    out = planes_of(shader(clip, [INVERT, HALVE_LUMA]))[0]
    inverted = 251 - y  # limited-range luma of the inverted grey: 16 + 219 * (1 - (y - 16) / 219)
    assert np.abs(out - inverted * 0.5).max() <= 1  # invert first, then halve (LUMA hooks see the plane's codes)


def test_longest_runs_share_a_render() -> None:
    """MAIN, MAIN | LUMA, MAIN, MAIN: two renders, the list's order kept (the inversions cancel)."""
    from kizunasr_vs.render.placebo import plan_renders

    chain = [INVERT, INVERT, HALVE_LUMA, INVERT, INVERT]
    y, clip = _grey_yuv(12)
    plan = plan_renders(clip, chain)
    assert [src.text.count("//!HOOK") for src in plan.renders] == [2, 3]  # two renders: 2 hooks, then 3
    assert len(plan_renders(clip, chain, merge=False).renders) == 5
    out = planes_of(shader(clip, chain))[0]
    assert np.abs(out - y * 0.5).max() <= 1


def test_shader_facts() -> None:
    from kizunasr_vs.render.merge import shader_facts

    saves_then_binds = shader_facts(_pass("MAIN", "//!SAVE TMP\n") + _pass("MAIN", "//!BIND TMP\n"))
    assert (saves_then_binds.borrowed, saves_then_binds.saves, saves_then_binds.steps) == (set(), {"TMP"}, (3, 3))
    facts = shader_facts(_pass("MAIN", "//!BIND TMP\n//!BIND LUMA\n//!WIDTH NATIVE_CROPPED.w\n") + "// target_size\n")
    assert (facts.borrowed, facts.other_stages, facts.reads_input, facts.reads_output) == ({"TMP"}, {"LUMA"}, True,
                                                                                            False)
    assert shader_facts(_pass("LUMA") + _pass("OUTPUT")).steps == (0, 10)
    assert shader_facts(_pass("NOPE")).steps is None


BINDS_LUMA = ("//!HOOK MAIN\n//!BIND HOOKED\n//!BIND LUMA\n"
              "vec4 hook() { vec4 c = HOOKED_tex(HOOKED_pos); return vec4(LUMA_tex(HOOKED_pos).x, c.gba); }\n")
NATIVE_SIZED = ("//!HOOK MAIN\n//!BIND HOOKED\n//!WIDTH NATIVE_CROPPED.w 2 *\n//!HEIGHT NATIVE_CROPPED.h 2 *\n"
                "vec4 hook() { return HOOKED_tex(HOOKED_pos); }\n")
READS_INPUT_SIZE = ("//!HOOK MAIN\n//!BIND HOOKED\n"
                    "vec4 hook() { return HOOKED_tex(HOOKED_pos) * (input_size.x / HOOKED_size.x); }\n")


def _stage_pass(stage: str, body: str = "return HOOKED_tex(HOOKED_pos);") -> str:
    return f"//!HOOK {stage}\n//!BIND HOOKED\nvec4 hook() {{ vec4 c = HOOKED_tex(HOOKED_pos); {body} }}\n"


INVERT_AT = "return vec4(1.0 - c.rgb, c.a);"
CHROMA_READS_LUMA = ("//!HOOK CHROMA\n//!BIND HOOKED\n//!BIND LUMA\nvec4 hook() { vec2 c = HOOKED_tex(HOOKED_pos).xy;"
                     " return vec4(mix(c, LUMA_tex(HOOKED_pos).xx, 0.5), 0.0, 1.0); }\n")
DEFINES_FOO = "//!PARAM FOO\n//!TYPE DEFINE\n1\n\n" + _stage_pass("MAIN")
IFDEF_FOO = _stage_pass("MAIN", "\n#ifdef FOO\n    c.rgb = 1.0 - c.rgb;\n#endif\n    return c;\n")


@pytest.mark.parametrize("chain,size", [
    ([INVERT, BINDS_LUMA], None),  # LUMA would be the render's input luma, not the inverted one
    ([DOUBLE, NATIVE_SIZED], None),  # NATIVE_CROPPED would be the render's input size
    ([DOUBLE, READS_INPUT_SIZE], None),  # likewise input_size
    (["kizuna_edge2x.glsl", "kizuna_chroma_guided.glsl"], None),  # chroma would still be 1x next to 2x luma
    ([_stage_pass("SCALED", "return vec4(c.rgb * c.rgb, c.a);"), _stage_pass("OUTPUT")], (32, 24)),  # scaled first
    ([_stage_pass("LINEAR"), _stage_pass("PREKERNEL", INVERT_AT)], None),  # later stages in linear light
    ([_stage_pass("SIGMOID"), _stage_pass("SCALED", INVERT_AT)], None),
    ([CHROMA_READS_LUMA, _stage_pass("LUMA", INVERT_AT)], None),  # luma is hooked before chroma
    ([DEFINES_FOO, IFDEF_FOO], None),  # a PARAM is defined in every pass of a file
    ([IFDEF_FOO, DEFINES_FOO], None),
], ids=["binds-luma", "native-cropped", "input-size", "plane-after-resize", "scaled-then-output", "linear-light",
        "sigmoid-light", "chroma-reads-luma", "param-define", "param-define-before"])
def test_lists_give_what_one_render_per_shader_gives(chain: list[str], size: tuple[int, int] | None) -> None:
    """Cases where one render for the whole list would differ from one render per shader (by 15-255 codes
    before the rules of render/merge.py caught them): the list must give what one render per shader gives."""
    chain = [str(shader_path(item)) if item.endswith(".glsl") else item for item in chain]
    rgb = np.round(random_rgb(14) * 255)
    clip = clip_from_planes(list(rgb), vs.RGB24, _Matrix=0, _Range=1)
    width, height = size or (None, None)
    got = np.stack(planes_of(shader(clip, chain, width, height))).astype(np.float64)
    want = np.stack(planes_of(shader(clip, chain, width, height, merge=False))).astype(np.float64)
    assert np.abs(got - want).max() <= 1


def test_shader_binding_a_texture_it_does_not_make_renders_on_its_own() -> None:
    """B binds TMP, which only A saves: on its own B's pass is skipped (libplacebo and mpv skip passes with a
    missing texture), in one file with A it would read A's TMP."""
    save_inverted = ("//!HOOK MAIN\n//!BIND HOOKED\n//!SAVE TMP\n"
                     "vec4 hook() { vec4 c = HOOKED_tex(HOOKED_pos); return vec4(1.0 - c.rgb, c.a); }\n")
    use_tmp = "//!HOOK MAIN\n//!BIND HOOKED\n//!BIND TMP\nvec4 hook() { return TMP_tex(TMP_pos); }\n"
    rgb = np.round(random_rgb(13) * 255)
    out = shader(clip_from_planes(list(rgb), vs.RGB24), [save_inverted, use_tmp])
    assert_close(np.stack(planes_of(out)), rgb, 255)


def test_many_renders_fall_back_to_one_instance(caplog: pytest.LogCaptureFixture) -> None:
    """Four renders (no two can share one) x 2 instances would be 8 vs-placebo filters: 1 instance, a warning."""
    y, clip = _grey_yuv(15)
    with caplog.at_level("WARNING", logger="kizunasr"):
        out = planes_of(shader(clip, [INVERT, HALVE_LUMA, INVERT, HALVE_LUMA], instances=2, renderer="vs-placebo"))[0]
    assert "using 1 instance" in caplog.text
    assert np.abs(out - (251 - (251 - y) / 2) / 2).max() <= 1


def test_shaders_declaring_one_param_still_chain() -> None:
    """Two shaders declaring the same PARAM cannot share a file: they render one by one, each applying it."""
    rgb = np.round(random_rgb(10) * 0.4 * 255)
    out = shader(clip_from_planes(list(rgb), vs.RGB24), [SCALE, SCALE], params={"strength": 1.5})
    assert_close(np.stack(planes_of(out)), rgb * 2.25, 255)


def test_rpn_sized_shader_output_size() -> None:
    text = DOUBLE.replace("HOOKED.w 2 *", "HOOKED.w 3 *").replace("HOOKED.h 2 *", "HOOKED.h 2 /")
    out = shader(vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H + 1, length=1), text)
    assert (out.width, out.height) == (3 * W, 7)  # 13 / 2 = 6.5 rounds half away from zero


def test_explicit_size_overrides_inferred() -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1, color=[200, 100, 50])
    out = shader(clip, DOUBLE, width=40, height=20)
    assert (out.width, out.height) == (40, 20)
    assert_close(np.stack(planes_of(out)), np.array([200, 100, 50])[:, None, None] * np.ones((1, 20, 40)), 255)


def test_display_sized_shader_needs_explicit_size() -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1)
    with pytest.raises(vs.Error, match=r"OUTPUT.*width= and height="):
        shader(clip, DISPLAY_SIZED)
    assert (shader(clip, DISPLAY_SIZED, width=24, height=18).width) == 24


# --------------------------------------------------------------------------------------------
# Props and params


def test_frame_props_are_kept_yuv420p10() -> None:
    props = {"_Matrix": 1, "_Range": 0, "_Transfer": 1, "_Primaries": 1, "_ChromaLocation": 0, "Foo": 1}
    planes = [np.full((H, W), 500), np.full((H // 2, W // 2), 512), np.full((H // 2, W // 2), 512)]
    out = shader(clip_from_planes(planes, vs.YUV420P10, **props), DOUBLE).get_frame(0).props
    assert {k: int(out[k]) for k in props} == props


def test_frame_props_rgb_and_gray() -> None:
    rgb = clip_from_planes([np.zeros((H, W))] * 3, vs.RGB24, _Transfer=13, _Primaries=1, Foo=2)
    props = shader(rgb, INVERT).get_frame(0).props
    assert (props["_Matrix"], props["_Range"], props["_Transfer"], props["Foo"]) == (0, 1, 13, 2)
    gray = clip_from_planes([np.full((H, W), 100)], vs.GRAY8, _Range=0, Bar=3)
    props = shader(gray, INVERT).get_frame(0).props
    assert (props["_Range"], props["Bar"]) == (0, 3)


@pytest.mark.parametrize("strength", [None, 0.5, 1.5])
def test_param_override_scales_output(strength: float | None) -> None:
    rgb = np.round(random_rgb(8) * 0.6 * 65535)
    params = None if strength is None else {"strength": strength}
    out = np.stack(planes_of(shader(clip_from_planes(list(rgb), vs.RGB48), SCALE, params=params)))
    assert_close(out, np.clip(rgb * (1.0 if strength is None else strength), 0, 65535), 65535)


def test_param_errors() -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1)
    with pytest.raises(vs.Error, match=r"unknown param.*sharpness.*strength"):
        shader(clip, SCALE, params={"sharpness": 1.0})
    with pytest.raises(vs.Error, match=r"strength.*outside"):
        shader(clip, SCALE, params={"strength": 3.0})


# --------------------------------------------------------------------------------------------
# Errors


def test_missing_file_names_path(tmp_path: Path) -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1)
    missing = tmp_path / "nope.glsl"
    for arg in (str(missing), missing):
        with pytest.raises(vs.Error, match=rf"^shader: shader '{missing}' not found; searched: {tmp_path} "):
            shader(clip, arg)


def test_glsl_compile_error_is_raised(tmp_path: Path) -> None:
    path = tmp_path / "broken.glsl"
    path.write_text(BROKEN)
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1)
    with pytest.raises(vs.Error, match=r"shader 'broken\.glsl'.*undeclared identifier.*shader line 5") as info:
        shader(clip, path)
    assert "\x1b[" not in str(info.value)


def test_the_direct_renderer_runs_on_the_pinned_vs_placebo() -> None:
    """The build pyproject pins is one whose libplacebo the direct renderer knows: 'auto' picks it."""
    import importlib.metadata
    import re

    from kizunasr_vs.render import libplacebo, placebo
    from tests.conftest import REPO

    pinned = re.search(r'"vs-placebo==([^"]+)"', (REPO / "pyproject.toml").read_text())
    assert pinned and pinned.group(1) == libplacebo.PINNED_VS_PLACEBO
    if importlib.metadata.version("vs-placebo") == libplacebo.PINNED_VS_PLACEBO:
        assert placebo.renderer_choice() == ("direct", libplacebo.status()), libplacebo.status()


def test_validation_leaves_stderr_alone() -> None:
    """In a child process: another thread writes to fd 2 while broken shaders are validated; every line arrives
    (validation takes libplacebo's messages from its log callback and never redirects the process's fd 2)."""
    import subprocess
    import sys

    code = ("import os, threading, time\nimport vapoursynth as vs\nfrom kizunasr_vs.render.placebo import shader\n"
            "clip = vs.core.std.BlankClip(width=16, height=12, format=vs.YUV444P8, length=1)\n"
            "done, written = threading.Event(), []\n"
            "def write():\n"
            "    while not done.is_set():\n"
            "        os.write(2, b'line %d\\n' % len(written)); written.append(1); time.sleep(0.001)\n"
            "writer = threading.Thread(target=write); writer.start()\n"
            "for n in range(3):\n"
            f"    try:\n        shader(clip, {BROKEN!r}.replace('foo', 'foo{{}}'.format(n)))\n"
            "    except vs.Error as e:\n        print(str(e)[:60])\n"
            "done.set(); writer.join(); print(len(written))\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 0, child.stderr[-2000:]
    *errors, count = child.stdout.splitlines()
    assert len(errors) == 3 and all("could not compile" in e for e in errors)
    lines = [line for line in child.stderr.splitlines() if line.startswith("line ")]
    assert lines == [f"line {n}" for n in range(int(count))]


def test_text_without_hook_is_rejected() -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1)
    with pytest.raises(vs.Error, match=r"no //!HOOK.*not an mpv"):
        shader(clip, "//!PARAM x\n//!TYPE float\n1.0\n")


def test_unknown_directive_is_rejected() -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=W, height=H, length=1)
    with pytest.raises(vs.Error, match=r"unrecognised directive '//!FOO bar'"):
        shader(clip, INVERT.replace("//!DESC invert", "//!FOO bar"))


# --------------------------------------------------------------------------------------------
# render/source.py units (no GPU)


def test_load_shader(tmp_path: Path) -> None:
    path = tmp_path / "inv.glsl"
    path.write_text(INVERT)
    assert ss.load_shader(path) == ss.ShaderSource("inv.glsl", INVERT)
    assert ss.load_shader(str(path)).text == INVERT
    assert ss.load_shader(INVERT).name == "<inline: invert>"


@pytest.mark.parametrize(
    "expr,value",
    [
        ("HOOKED.w 3 *", 48.0),
        ("HOOKED.h 2 /", 6.0),
        ("MAIN.width LUMA.height +", 16.0 + 10.0),
        ("HOOKED.w LUMA.w >", 1.0),
        ("HOOKED.w LUMA.w <", 0.0),
        ("HOOKED.w 16 =", 1.0),
        ("HOOKED.w 16 = !", 0.0),
        ("HOOKED.w 5 %", 1.0),
        ("HOOKED.w 2 - strength *", 21.0),
    ],
)
def test_eval_rpn(expr: str, value: float) -> None:
    sizes = {"HOOKED": (16, 12), "MAINPRESUB": (16, 12), "LUMA": (8, 10)}
    assert ss.eval_rpn(expr, sizes, {"strength": 1.5}) == value


@pytest.mark.parametrize("expr,message", [("FOO.w", "FOO"), ("1 +", "underflow"), ("1 2", "malformed"),
                                          ("1 0 /", "illegal"), ("x 2 *", "unknown variable")])
def test_eval_rpn_errors(expr: str, message: str) -> None:
    with pytest.raises(vs.Error, match=message):
        ss.eval_rpn(expr, {"HOOKED": (1, 1)})


def _pass(hook: str, extra: str = "", bind: str = "HOOKED") -> str:
    return f"//!HOOK {hook}\n//!BIND {bind}\n{extra}vec4 hook() {{ return HOOKED_tex(HOOKED_pos); }}\n"


@pytest.mark.parametrize(
    "text,size",
    [
        (_pass("MAIN", "//!WIDTH HOOKED.w 3 *\n//!HEIGHT HOOKED.h 2 /\n"), (48, 6)),
        (_pass("LUMA", "//!WIDTH HOOKED.w 2 *\n//!HEIGHT HOOKED.h 2 *\n"), (32, 24)),  # luma sizes the image
        (_pass("CHROMA", "//!WIDTH HOOKED.w 2 *\n//!HEIGHT HOOKED.h 2 *\n"), (16, 12)),
        (_pass("MAIN", "//!SAVE TMP\n//!WIDTH HOOKED.w 2 *\n"), (16, 12)),  # saved elsewhere
        (_pass("MAIN", "//!WIDTH HOOKED.w 2 *\n", bind="NOSUCH"), (16, 12)),  # skipped by libplacebo
        (_pass("MAIN", "//!WHEN HOOKED.w 100 >\n//!WIDTH HOOKED.w 2 *\n"), (16, 12)),
        (_pass("LUMA", "//!WIDTH HOOKED.w 2 *\n") + _pass("MAIN", "//!HEIGHT LUMA.w\n"), (32, 32)),
        (_pass("RGB", "//!WIDTH HOOKED.w 2 *\n"), (16, 12)),  # no RGB plane in a YUV frame
    ],
)
def test_infer_output_size(text: str, size: tuple[int, int]) -> None:
    assert ss.infer_output_size(text, 16, 12) == size


def test_infer_output_size_chain_and_errors() -> None:
    double = _pass("MAIN", "//!WIDTH HOOKED.w 2 *\n//!HEIGHT HOOKED.h 2 *\n")
    assert ss.infer_output_size([double, ss.ShaderSource("d", double)], 16, 12) == (64, 48)
    with pytest.raises(vs.Error, match=r"shader 'x'.*OUTPUT.*width= and height="):
        ss.infer_output_size(ss.ShaderSource("x", DISPLAY_SIZED), 16, 12)
    with pytest.raises(vs.Error, match=r"FOO.*width= and height="):
        ss.infer_output_size(_pass("MAIN", "//!WIDTH FOO.w\n"), 16, 12)
    with pytest.raises(vs.Error, match="PREKERNEL"):
        ss.infer_output_size(_pass("PREKERNEL", "//!WIDTH HOOKED.w 2 *\n"), 16, 12)


def test_parse_passes_and_apply_params() -> None:
    passes = ss.parse_passes(SCALE + DOUBLE)
    assert [(p.hooks, p.width, p.height) for p in passes] == [
        (("MAIN",), None, None), (("MAIN",), "HOOKED.w 2 *", "HOOKED.h 2 *")]
    text = ss.apply_params(SCALE, {"strength": 0.25})
    assert "//!MAXIMUM 2.0\n0.25\n\n//!HOOK" in text
    assert [p.default for p in ss.parse_params(text)] == ["0.25"]
    with pytest.raises(vs.Error, match=r"unknown shader param.*gamma.*declares: strength"):
        ss.apply_params(SCALE, {"gamma": 1})
    with pytest.raises(vs.Error, match="outside"):
        ss.apply_params(SCALE, {"strength": -1})
    int_param = "//!PARAM n\n//!TYPE int\n2\n" + DOUBLE
    assert "\n3\n" in ss.apply_params(int_param, {"n": 3})
    with pytest.raises(vs.Error, match="not an integer"):
        ss.apply_params(int_param, {"n": 2.5})


def test_texture_blocks_and_compute_passes() -> None:
    text = ("//!TEXTURE LUT\n//!SIZE 2 1\n//!FORMAT rgba8\n//!FILTER NEAREST\n00ff00ff00ff00ff\n\n"
            + _pass("MAIN", "//!BIND LUT\n//!COMPUTE 8 8\n//!WIDTH HOOKED.w 2 *\n"))
    (p,) = ss.parse_passes(text)
    assert (p.binds, p.compute) == (("HOOKED", "LUT"), (8, 8))
    assert ss.infer_output_size(text, 16, 12) == (32, 12)


def test_instances_interleave_frames_in_order() -> None:
    values = np.arange(7, dtype=np.uint8) * 30  # a different grey per frame
    blank = core.std.BlankClip(format=vs.RGB24, width=8, height=6, length=7)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p]).fill(values[n])
        return out

    clip = core.std.SetFrameProps(core.std.ModifyFrame(blank, blank, fill), _Matrix=0, _Range=1)
    out = shader(clip, [INVERT, DOUBLE], instances=2)
    assert (out.num_frames, out.width, out.height) == (7, 16, 12)
    for n in range(7):
        got = np.asarray(out.get_frame(n)[0]).astype(int)
        assert np.abs(got - (255 - int(values[n]))).max() <= 1, f"frame {n}"
    with pytest.raises(vs.Error, match="instances"):
        shader(clip, INVERT, instances=0)


def test_when_enlarged_for_display_counts_as_true() -> None:
    """mpv's "only when enlarged" condition (WHEN reading OUTPUT, as Anime4K and our learned shaders have) is
    taken as true for the size: the shader upscales, and the target it then gets makes the condition hold."""
    double = "//!WIDTH HOOKED.w 2 *\n//!HEIGHT HOOKED.h 2 *\n"
    when = "//!WHEN OUTPUT.w MAIN.w / 1.200 > OUTPUT.h MAIN.h / 1.200 > *\n" + double
    assert ss.infer_output_size(_pass("MAIN", when), 16, 12) == (32, 24)
    never = "//!WHEN MAIN.w 0 <\n" + double
    assert ss.infer_output_size(_pass("MAIN", never), 16, 12) == (16, 12)


HUGE = """//!HOOK {hook}
//!BIND HOOKED
{save}//!WIDTH HOOKED.w {factor} *
//!DESC huge
vec4 hook() {{ return HOOKED_tex(HOOKED_pos); }}
"""


@pytest.mark.parametrize(("header", "message"), [
    ("//!WIDTH 1e40", r"pass 'absurd': '1e40' gives a size of inf, beyond libplacebo's texture limit"),
    ("//!WIDTH 3e38", r"pass 'absurd': '3e38' gives a size of 3e\+38, beyond libplacebo's texture limit"),
    ("//!HEIGHT HOOKED.h 1e40 *", r"illegal operation '\*' on 12.0 and inf|Error while parsing HEIGHT"),
])
@pytest.mark.parametrize("size", [{}, {"width": 32, "height": 24}])
def test_absurd_sizes_in_directives_are_one_clear_error(header: str, message: str, size: dict[str, int]) -> None:
    """Sizes beyond float32 or the texture limit give one vs.Error naming the shader (not OverflowError), with or
    without an explicit output size."""
    text = f"//!HOOK MAIN\n//!BIND HOOKED\n{header}\n//!DESC absurd\nvec4 hook() {{ return HOOKED_tex(HOOKED_pos); }}\n"
    clip = vs.core.std.BlankClip(width=16, height=12, format=vs.YUV444P8, length=1)
    with pytest.raises(vs.Error, match=rf"^shader '<inline: absurd>': .*({message})") as info:
        shader(clip, text, **size)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("factor", "save", "renderer", "size"), [
    (100000, "", "direct", None),  # the report: a pass 100000x wider
    (1000, "", "vs-placebo", None),  # 16x16 validation renders fit, the 64x48 frame does not
    (1000, "", "direct", (64, 48)),  # an explicit output size does not make the pass fit
    (1000, "//!SAVE BIG\n", "direct", None),  # a saved texture counts too
])
def test_texture_beyond_libplacebo_limit_is_refused(tmp_path: Path, factor: int, save: str, renderer: str,
                                                    size: tuple[int, int] | None) -> None:
    """In a child process: libplacebo aborts on textures beyond the GPU's limit, which must show as a crash."""
    import subprocess
    import sys

    glsl = tmp_path / "huge.glsl"
    glsl.write_text(HUGE.format(hook="LUMA" if not save else "MAIN", save=save, factor=factor))
    width, height = size or (None, None)
    code = ("import vapoursynth as vs\nfrom kizunasr_vs.render.placebo import shader\n"
            "clip = vs.core.std.BlankClip(width=64, height=48, format=vs.YUV444P8, length=1)\n"
            f"try:\n    shader(clip, {str(glsl)!r}, {width}, {height}, renderer={renderer!r}).get_frame(0)\n"
            "except vs.Error as e:\n    print(e)\nelse:\n    print('rendered')\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == (f"shader 'huge.glsl': pass 'huge': its {'BIG' if save else 'LUMA'} texture is "
                                    f"{64 * factor}x48, beyond libplacebo's texture limit of 16384 per side (the "
                                    "GPU driver would abort the process); lower the factor in its //!WIDTH or "
                                    "//!HEIGHT")


def test_texture_limit_in_size_inference() -> None:
    assert ss.infer_output_size(HUGE.format(hook="MAIN", save="", factor=256), 64, 48) == (16384, 48)
    with pytest.raises(ss.TextureTooLarge, match="16448x48, beyond libplacebo's texture limit of 16384"):
        ss.infer_output_size(HUGE.format(hook="MAIN", save="", factor=257), 64, 48)
    with pytest.raises(vs.Error, match=r"shader: the clip is 16385x8, beyond"):
        shader(core.std.BlankClip(width=16385, height=8, format=vs.YUV444P8, length=1), INVERT)
    with pytest.raises(vs.Error, match=r"shader: the output of '.*' is 20000x12, beyond"):
        shader(core.std.BlankClip(width=W, height=H, format=vs.YUV444P8, length=1), INVERT, 20000, 12)
