"""A clip's timing (media/span.py), shared by `encode`, `batch` and the cluster: frame rates, including a
variable-rate clip's (VapourSynth's 0/1), and the checked frame range."""

from __future__ import annotations

import pytest
import vapoursynth as vs

from kizunasr_vs.media.span import FALLBACK_FPS, fps_of, frame_range


def test_fps_of_constant_and_variable_rate_clips() -> None:
    ntsc = vs.core.std.BlankClip(length=10, fpsnum=24000, fpsden=1001)
    assert fps_of(ntsc) == pytest.approx(23.976, abs=1e-3)
    variable = vs.core.std.Splice([vs.core.std.BlankClip(length=2, fpsnum=24),
                                   vs.core.std.BlankClip(length=2, fpsnum=30)], mismatch=True)
    assert variable.fps.numerator == 0
    assert fps_of(variable) == FALLBACK_FPS  # 0/1 would make every time a division by zero


def test_frame_range_is_clipped_to_the_clip_and_never_empty() -> None:
    clip = vs.core.std.BlankClip(length=10)
    assert frame_range(clip, 2, None) == (2, 10)
    assert frame_range(clip, 0, 99) == (0, 10)
    for first, last in ((5, 5), (10, None), (-1, 4)):
        with pytest.raises(ValueError, match="empty range"):
            frame_range(clip, first, last)
