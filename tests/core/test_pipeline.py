"""Stage and Pipeline: stages chain into one graph, in order, and failures name the stage."""

from __future__ import annotations

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs import FunctionStage, Pipeline, Stage
from tests.vsarrays import clip_from_planes, planes_of


def _double(clip: vs.VideoNode) -> vs.VideoNode:
    return clip.resize.Point(clip.width * 2, clip.height * 2)


def _add_ten(clip: vs.VideoNode) -> vs.VideoNode:
    return vs.core.std.Expr(clip, "x 10 +")


def test_stages_run_in_order_as_numpy_predicts() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 10
    clip = clip_from_planes([gray], vs.GRAY8, MyProp=3)
    pipeline = Pipeline([FunctionStage("double", _double), FunctionStage("add", _add_ten)])
    out = pipeline.apply(clip)
    np.testing.assert_array_equal(planes_of(out)[0], np.repeat(np.repeat(gray, 2, 0), 2, 1) + 10)
    assert out.get_frame(0).props["MyProp"] == 3
    assert pipeline.names == ["double", "add"]
    assert all(isinstance(s, Stage) for s in pipeline.stages)


def test_failing_stage_is_named() -> None:
    def broken(clip: vs.VideoNode) -> vs.VideoNode:
        return vs.core.std.Expr(clip, "x y +")  # one input only: VapourSynth refuses

    pipeline = Pipeline([FunctionStage("broken-expr", broken)])
    with pytest.raises(vs.Error, match="stage 'broken-expr'"):
        pipeline.apply(vs.core.std.BlankClip(format=vs.GRAY8))
