"""The ffmpeg encoder: real ffmpeg, atomic output, streams copied, nothing left behind on failure."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import vapoursynth as vs

from kizunasr_vs.media.encoder import EncodeError, EncodeSettings, encode
from kizunasr_vs.media.source import open_video

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def make_source_with_audio(path: Path, frames: int = 12) -> Path:
    video = f"testsrc2=size=160x96:rate=24:duration={frames / 24}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video,
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-shortest", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def test_encode_writes_expected_size_frames_and_copies_audio(tmp_path: Path) -> None:
    source = make_source_with_audio(tmp_path / "src.mkv")
    clip = open_video(source)
    big = clip.resize.Bicubic(clip.width * 2, clip.height * 2)
    out = encode(big, tmp_path / "out.mkv", EncodeSettings(codec="h264", copy_streams_from=source))
    streams = probe(out)["streams"]
    video = [s for s in streams if s["codec_type"] == "video"][0]
    assert (video["width"], video["height"]) == (320, 192)
    assert int(video["nb_read_frames"]) == clip.num_frames
    assert video["pix_fmt"] == "yuv420p10le"
    assert any(s["codec_type"] == "audio" for s in streams)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv", "src.mkv"]


def test_unwritable_folder_is_refused_before_work(tmp_path: Path) -> None:
    clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=2)
    with pytest.raises(EncodeError, match="missing or not writable"):
        encode(clip, tmp_path / "no" / "such" / "dir" / "out.mkv", EncodeSettings())


def test_ffmpeg_failure_leaves_nothing(tmp_path: Path) -> None:
    clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=2)
    settings = EncodeSettings(codec="h264", extra_args=["-vf", "no_such_filter"])
    with pytest.raises(EncodeError, match="ffmpeg"):
        encode(clip, tmp_path / "out.mkv", settings)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("extra", "words"), [
    (["-bsf:v", "noise=amount=3"], "does not play back"),  # bytes of the packets damaged: decode errors
    (["-vf", "select='lt(n,3)'"], "decodes 3 frames of h264, 8 were encoded"),  # frames lost
])
def test_a_written_file_that_does_not_play_back_is_not_kept(tmp_path: Path, extra: list[str], words: str) -> None:
    clip = open_video(make_source_with_audio(tmp_path / "src.mkv", frames=8))
    with pytest.raises(EncodeError, match=words):
        encode(clip, tmp_path / "out.mkv", EncodeSettings(codec="h264", extra_args=extra))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.mkv"]


def test_odd_size_for_420_is_a_clear_error(tmp_path: Path) -> None:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=65, height=48, length=2)
    with pytest.raises(EncodeError, match="even size"):
        encode(clip, tmp_path / "out.mkv", EncodeSettings())


SLOW_ENCODE = """
import signal, sys, time, vapoursynth as vs
# Ctrl-C as in a terminal: a background job of a non-interactive shell (a CI script's `cmd &`) inherits SIGINT
# ignored, and Python then installs no KeyboardInterrupt handler
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
from kizunasr_vs.media.encoder import EncodeSettings, encode
clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=320, height=240, length=100000)
def slow(n, f):
    time.sleep(0.01)
    return f
clip = vs.core.std.ModifyFrame(clip, clip, slow)
encode(clip, Path(sys.argv[1]), EncodeSettings(codec="h264"))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_encode_leaves_no_output(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out.mkv"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_ENCODE, str(out)], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    while not any(tmp_path.glob(".out.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert any(tmp_path.glob(".out.*.partial")), "the encode never started"
    proc.send_signal(sig)
    assert proc.wait(timeout=30) != 0
    assert list(tmp_path.iterdir()) == []
