"""One encode described once (media/job.py): its frames, its ffmpeg settings and the output checks shared by
`encode`, `upscale`, `batch` and the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import vapoursynth as vs

from kizunasr_vs.core.formats import resolve_color
from kizunasr_vs.media.job import EncodeJob, check_outputs


def test_frames_trim_and_settings_follow_the_span(tmp_path: Path) -> None:
    source = vs.core.std.BlankClip(length=100, fpsnum=24, width=64, height=48)
    job = EncodeJob(tmp_path / "in.mkv", tmp_path / "out.mkv", start="24", end="3s", codec="h264", crf=20,
                    ten_bit=False)
    assert job.frames(source) == (24, 72)
    clip, first = job.trim(source)
    assert (clip.num_frames, first) == (48, 24)
    settings = job.settings(clip, first, resolve_color(source))
    assert (settings.codec, settings.crf, settings.ten_bit) == ("h264", 20, False)
    assert settings.copy_streams_from == tmp_path / "in.mkv"
    assert (settings.source_start, settings.source_duration) == (1.0, 2.0)
    sample = EncodeJob(None, tmp_path / "out.mkv")  # the built-in sample: no streams to copy
    assert sample.name == "built-in sample"
    assert sample.settings(clip, 0, resolve_color(source)).source_duration is None
    with pytest.raises(ValueError, match="empty range"):
        EncodeJob(None, tmp_path / "out.mkv", start="100").frames(source)


def test_check_refuses_existing_shared_and_unreadable_outputs(tmp_path: Path) -> None:
    (tmp_path / "a.mkv").write_bytes(b"")
    done = EncodeJob(tmp_path / "x.mkv", tmp_path / "a.mkv")
    with pytest.raises(ValueError, match="exists"):
        done.check()
    EncodeJob(tmp_path / "x.mkv", tmp_path / "a.mkv", overwrite=True).check()
    with pytest.raises(ValueError, match="would both be written"):
        check_outputs([EncodeJob(tmp_path / "x.mkv", tmp_path / "b.mkv"),
                       EncodeJob(tmp_path / "y.mkv", tmp_path / "b.mkv")])
    with pytest.raises(ValueError, match="not before"):
        EncodeJob(None, tmp_path / "b.mkv", start="5", end="3").check()
