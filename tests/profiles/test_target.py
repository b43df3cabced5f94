"""A target size (profiles/fit.py, chain.steps_to_reach): the chain stops enlarging once it covers the target, and
the picture keeps its display aspect inside it."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.profiles import load_profile
from kizunasr_vs.profiles.chain import steps_to_reach
from kizunasr_vs.profiles.fit import fitted_size
from kizunasr_vs.profiles.upscale import upscale
from tests.vsarrays import clip_from_planes, planes_of


@pytest.mark.parametrize(("profile", "target", "steps"), [
    ("performance", (1920, 1080), 1), ("performance", (3840, 2160), 2), ("performance", (1280, 720), 1),
    ("performance", (2000, 1126), 2),  # 1920x1080 does not cover 2000x1124: a second 2x, then down
    ("balanced", (1920, 1080), 1), ("quality", (3840, 2160), 2),  # models: the registry's scale
])
def test_a_540p_chain_stops_once_it_covers_the_target(profile: str, target: tuple[int, int], steps: int) -> None:
    chain = load_profile(profile).for_height(540).encode
    assert len(chain) == 2
    picture = fitted_size(960, 540, Fraction(1), target)
    assert steps_to_reach(chain, (960, 540), picture) == chain[:steps]


def test_steps_that_do_not_enlarge_stay_and_unknown_models_run() -> None:
    chain = [{"shader": "kizuna_cnn_x2_s.glsl"}, {"shader": "kizuna_cnn_x2_s.glsl"}, {"shader": "kizuna_cas.glsl"},
             {"resize": {"scale": 2}}, {"resize": {"scale": 0.5}}]
    assert steps_to_reach(chain, (960, 540), (1920, 1080)) == [chain[0], chain[2], chain[4]]
    unknown = [{"model": "/somewhere/my_4x.onnx"}, {"shader": "kizuna_cnn_x2_s.glsl"}]
    assert steps_to_reach(unknown, (960, 540), (960, 540)) == unknown  # its size is not known beforehand


@pytest.mark.parametrize(("size", "sar", "target", "expected"), [
    ((640, 480), Fraction(1), (1920, 1080), (1440, 1080)), ((1920, 1080), Fraction(1), (3840, 2160), (3840, 2160)),
    ((720, 480), Fraction(32, 27), (1920, 1080), (1920, 1080)), ((720, 576), Fraction(16, 15), (1920, 1080),
                                                                  (1440, 1080)),
    ((640, 360), Fraction(1), (1000, 500), (888, 500)), ((100, 1000), Fraction(1), (64, 64), (6, 64)),
])
def test_fitted_size_keeps_the_display_aspect(size: tuple[int, int], sar: Fraction, target: tuple[int, int],
                                             expected: tuple[int, int]) -> None:
    assert fitted_size(*size, sar, target) == expected


def test_upscale_to_a_target_runs_only_the_steps_it_needs(tmp_path: Path) -> None:
    """Two 2x resizes to a 2x target: the output is one 2x resize of the source, not two and a resize down."""
    profile = tmp_path / "twice.json"
    step = {"resize": {"scale": 2, "kernel": "bilinear"}}
    profile.write_text(json.dumps({"name": "twice", "description": "x", "requires": {},
                                   "ranges": [{"max_height": None, "realtime": [], "pause": [],
                                               "encode": [step, step]}]}))
    source = clip_from_planes([np.random.default_rng(1).random((18, 32), dtype=np.float32)], vs.GRAYS)
    got = upscale(source, str(profile), target=(64, 36))
    want = source.resize.Bilinear(64, 36)
    np.testing.assert_allclose(planes_of(got)[0], planes_of(want)[0], atol=1e-6)
    assert (upscale(source, str(profile), target=(128, 72)).width, got.width) == (128, 64)


def test_odd_target_for_a_subsampled_clip_is_a_clear_error() -> None:
    clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=1)
    with pytest.raises(vs.Error, match="target 1921x1081 cannot hold YUV420P8.*use 1920x1080"):
        upscale(clip, "performance", target="1921x1081")
