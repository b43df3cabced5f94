"""Our own libplacebo renderer (``placebo_direct``) against vs-placebo's ``placebo.Shader``, on lavapipe.

The reference is vs-placebo itself: the renderer must give the same output, bit for bit, frame by frame,
with several frames in flight. Known pixel values check the colour handling independently of both.
"""

from __future__ import annotations

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.render import libplacebo, placebo, placebo_direct
from kizunasr_vs.render.placebo import shader
from tests.vsarrays import clip_from_planes, planes_of

pytestmark = pytest.mark.skipif(not placebo_direct.available(),
                                reason="vs-placebo's bundled libplacebo is missing or of an unknown API")

FRAMES = 5
WHITE = "//!HOOK MAIN\n//!BIND HOOKED\nvec4 hook() { return vec4(1.0); }\n"


def _noise_clip(fmt: int, range_: int, seed: int = 3) -> vs.VideoNode:
    """FRAMES different noise frames (so a frame out of order shows), 48x36."""
    rng = np.random.default_rng(seed)
    info = vs.core.get_video_format(fmt)
    top = (1 << info.bits_per_sample) - 1
    clips = []
    for _ in range(FRAMES):
        planes = [rng.integers(0, top + 1, size=(36 >> (info.subsampling_h if p else 0),
                                                48 >> (info.subsampling_w if p else 0))).astype(np.float64)
                  for p in range(info.num_planes)]
        matrix = 0 if info.color_family == vs.RGB else 1
        clips.append(clip_from_planes(planes, fmt, _Matrix=matrix, _Range=range_))
    return vs.core.std.Splice(clips)


def _all_planes(clip: vs.VideoNode) -> list[np.ndarray]:
    """Each frame's planes, flattened into one array (subsampled planes differ in shape)."""
    return [np.concatenate([p.ravel() for p in planes_of(clip, n)]) for n in range(clip.num_frames)]


@pytest.mark.parametrize("shaders", [["kizuna_passthrough.glsl"], ["kizuna_edge2x.glsl"],
                                     ["kizuna_deband.glsl", "kizuna_edge2x.glsl", "kizuna_cas.glsl"]])
@pytest.mark.parametrize(("fmt", "range_"), [(vs.YUV420P8, 0), (vs.YUV444P16, 1), (vs.RGB24, 1)],
                         ids=["yuv420p8-limited", "yuv444p16-full", "rgb24"])
def test_direct_gives_vs_placebo_output_bit_for_bit(shaders: list[str], fmt: int, range_: int) -> None:
    clip = _noise_clip(fmt, range_)
    paths = [shader_path(name) for name in shaders]
    ours = _all_planes(shader(clip, paths, renderer="direct", streams=3))
    theirs = _all_planes(shader(clip, paths, renderer="vs-placebo"))
    assert len(ours) == FRAMES
    for n in range(FRAMES):
        assert np.array_equal(ours[n], theirs[n]), f"frame {n} differs"


def test_frames_stay_in_order_with_many_streams() -> None:
    """More streams than frames, and a stream count that does not divide the clip: each frame is its own."""
    clip = _noise_clip(vs.YUV444P16, 1, seed=5)
    one = _all_planes(shader(clip, shader_path("kizuna_passthrough.glsl"), renderer="direct", streams=1))
    for streams in (2, 16):
        many = _all_planes(shader(clip, shader_path("kizuna_passthrough.glsl"), renderer="direct", streams=streams))
        assert all(np.array_equal(a, b) for a, b in zip(one, many, strict=True))
    assert not np.array_equal(one[0], one[1])


@pytest.mark.parametrize(("range_", "white_y"), [(0, 235), (1, 255)])
def test_white_lands_on_the_range_white(range_: int, white_y: int) -> None:
    """A shader painting RGB white gives Y = 235 (limited) or 255 (full), neutral chroma: known values."""
    clip = _noise_clip(vs.YUV444P8, range_)
    y, u, v = planes_of(shader(clip, WHITE, renderer="direct"))
    assert np.all(y == white_y)
    assert np.all(np.abs(u - 128) <= 1) and np.all(np.abs(v - 128) <= 1)


def test_bad_arguments_raise() -> None:
    clip = _noise_clip(vs.YUV420P8, 0)
    with pytest.raises(vs.Error, match="renderer must be one of"):
        shader(clip, WHITE, renderer="opengl")
    with pytest.raises(vs.Error, match="streams must be an int from 1 to 16"):
        shader(clip, WHITE, streams=0)


def test_unknown_libplacebo_falls_back_to_vs_placebo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A libplacebo API whose layouts we do not know: 'auto' renders with vs-placebo and says why, 'direct' says
    what to do, and a broken shader is still caught (tried in a child process through vs-placebo)."""
    monkeypatch.setattr(libplacebo, "SUPPORTED_API", frozenset({1}))
    libplacebo._load.cache_clear()
    try:
        assert not placebo_direct.available()
        chosen, why = placebo.renderer_choice()
        assert chosen == "vs-placebo" and "API 371" in why and "pip install 'vs-placebo==2.0.4'" in why
        clip = _noise_clip(vs.YUV444P8, 0)
        assert np.all(planes_of(shader(clip, WHITE))[0] == 235)
        with pytest.raises(vs.Error, match="renderer='vs-placebo'"):
            shader(clip, WHITE, renderer="direct")
        broken = WHITE.replace("vec4(1.0)", "vec4(nowhere_defined)")
        with pytest.raises(vs.Error, match="could not compile it.*nowhere_defined"):
            shader(clip, broken)
    finally:
        libplacebo._load.cache_clear()


def test_stage_timing_counts_every_frame() -> None:
    clip = _noise_clip(vs.YUV444P16, 1)
    with placebo_direct.stage_timing() as stages:
        out = shader(clip, WHITE, renderer="direct", streams=2)
    for _ in out.frames(close=True):
        pass
    assert stages.frames == FRAMES
    assert set(stages.ms_per_frame()) == set(placebo_direct.STAGES)
    assert all(ms >= 0 for ms in stages.ms_per_frame().values())


@pytest.mark.parametrize("samples", [3, 4])
def test_split_packed_takes_every_samples_th_column(samples: int) -> None:
    """The zimg point-resize split equals numpy's strided slices exactly (4: a padded rgba16 download)."""
    rng = np.random.default_rng(samples)
    packed = rng.integers(0, 65536, size=(6, 7 * samples)).astype(np.float64)
    clip = clip_from_planes([packed], vs.GRAY16)
    planes = planes_of(placebo_direct.split_packed(clip, samples))
    for c in range(3):
        assert np.array_equal(planes[c], packed[:, c::samples])


def test_gpu_timer_sees_every_pass_of_every_frame() -> None:
    """libplacebo's pass reports reach the timer: per frame, at least one report per pass of the shader (a 4-pass
    chain over a 1-pass one adds 3), each timed once its timer query has come back, with a sane layout."""
    one = "//!HOOK MAIN\n//!BIND HOOKED\n//!DESC p0\nvec4 hook() { return HOOKED_tex(HOOKED_pos); }\n"
    four = "".join(one.replace("p0", f"p{i}") for i in range(4))
    clip = _noise_clip(vs.YUV444P16, 1) * 4  # 20 frames
    per_frame = []
    for text in (one, four):
        with placebo_direct.gpu_timing() as timer:
            out = shader(clip, [text], renderer="direct", streams=2)
            for _ in out[:8].frames(close=True):
                pass
            timer.reset()
            for _ in out[8:].frames(close=True):
                pass
            assert timer.ms() > 0 and timer.untimed == 0
            per_frame.append(timer.passes / (out.num_frames - 8))
    assert per_frame[0] >= 1 and per_frame[1] - per_frame[0] == 3, per_frame


def test_no_timer_outside_gpu_timing() -> None:
    out = shader(_noise_clip(vs.YUV444P16, 1), [WHITE], renderer="direct")
    with placebo_direct.gpu_timing() as timer:
        for _ in out.frames(close=True):
            pass
    assert timer.passes == 0
