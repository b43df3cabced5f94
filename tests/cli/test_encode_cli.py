"""`kizunasr encode` and `kizunasr_vs.upscale` end to end on a short real clip made from ../shared/media."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from tests.conftest import REPO, models_dir, shared_media

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def make_clip(tmp_path: Path, width: int, height: int, frames: int) -> Path:
    """A panning crop of a real painting, with a sine audio track and an ASS subtitle, in Matroska."""
    image = shared_media("anime4k_bird_LR.png")
    subtitle = tmp_path / "subs.ass"
    subtitle.write_text("[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize\n"
                        "Style: Default,Arial,20\n\n[Events]\nFormat: Layer, Start, End, Style, Text\n"
                        "Dialogue: 0,0:00:00.00,0:00:01.00,Default,hello\n")
    out = tmp_path / f"clip_{width}x{height}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "24", "-i", str(image),
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-i", str(subtitle),
                    "-vf", f"crop={width}:{height}:x='min(n*3,iw-{width})':y=20,format=yuv420p",
                    "-frames:v", str(frames), "-t", str(frames / 24), "-map", "0:v", "-map", "1:a", "-map", "2:s",
                    "-c:v", "libx264", "-qp", "0", "-c:a", "aac", "-c:s", "ass", str(out)], check=True)
    return out


def kizunasr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kizunasr_vs", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=900)


def streams(path: Path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["streams"]


def with_models_env() -> dict[str, str]:
    if not (models_dir() / "2x_AnimeJaNai_SD_V1beta34_Compact-fp32.onnx").is_file():
        pytest.skip(f"AnimeJaNai models not found in {models_dir()}")
    return {**os.environ, "KIZUNASR_MODELS_DIR": str(models_dir())}


@pytest.mark.slow
def test_performance_profile_encode_keeps_audio_and_subtitles(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 160, 120, 10)
    out = tmp_path / "out.mkv"
    result = kizunasr("encode", str(clip), str(out), "--profile", "performance", "--codec", "h264")
    assert result.returncode == 0, result.stderr
    found = streams(out)
    video = [s for s in found if s["codec_type"] == "video"][0]
    # performance on a <= 576-line source: two edge-directed 2x passes
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (640, 480, 10)
    assert {s["codec_type"] for s in found} == {"video", "audio", "subtitle"}


@pytest.mark.slow
def test_start_end_and_target(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 160, 120, 12)
    out = tmp_path / "cut.mkv"
    result = kizunasr("encode", str(clip), str(out), "--profile", "performance", "--codec", "h264",
                      "--start", "2", "--end", "0.25s", "--target", "400x300")
    assert result.returncode == 0, result.stderr
    video = [s for s in streams(out) if s["codec_type"] == "video"][0]
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (400, 300, 4)


@pytest.mark.slow
def test_quality_profile_matches_the_chain_computed_step_by_step(tmp_path: Path) -> None:
    env = with_models_env()
    clip = make_clip(tmp_path, 96, 64, 3)
    out = tmp_path / "q.mkv"
    result = kizunasr("encode", str(clip), str(out), "--profile", "quality", "--codec", "ffv1", env=env)
    assert result.returncode == 0, result.stderr

    import kizunasr_vs

    source = vs.core.bs.VideoSource(str(clip))
    sd = models_dir() / "2x_AnimeJaNai_SD_V1beta34_Compact-fp32.onnx"
    hd = models_dir() / "2x_AnimeJaNai_HD_V3_Compact-fp32.onnx"
    expected = kizunasr_vs.onnx(kizunasr_vs.onnx(source, str(sd)), str(hd))
    expected = expected.resize.Bicubic(format=vs.YUV420P10, dither_type="error_diffusion")
    encoded = vs.core.bs.VideoSource(str(out))
    assert (encoded.width, encoded.height, encoded.num_frames) == (384, 256, 3)
    for n in range(3):
        a, b = expected.get_frame(n), encoded.get_frame(n)
        for p in range(3):
            diff = np.abs(np.asarray(a[p]).astype(np.int32) - np.asarray(b[p]).astype(np.int32))
            assert diff.max() <= 1, f"frame {n} plane {p}: max diff {diff.max()}"


def test_corrupt_input_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.mkv"
    bad.write_bytes(os.urandom(4096))
    result = kizunasr("encode", str(bad), str(tmp_path / "out.mkv"), "--profile", "performance")
    assert result.returncode != 0
    assert "corrupt.mkv" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.mkv"]


def test_unknown_profile_and_unwritable_output(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 64, 48, 2)
    result = kizunasr("encode", str(clip), str(tmp_path / "o.mkv"), "--profile", "ultra")
    assert result.returncode == 2 and "unknown profile 'ultra'" in result.stderr
    result = kizunasr("encode", str(clip), str(tmp_path / "missing" / "o.mkv"), "--profile", "performance")
    assert result.returncode != 0 and "not writable" in result.stderr
    assert not (tmp_path / "o.mkv").exists()


def test_missing_model_names_the_fetch_command(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 64, 48, 2)
    env = {**os.environ, "KIZUNASR_MODELS_DIR": str(tmp_path / "empty")}
    result = kizunasr("encode", str(clip), str(tmp_path / "o.mkv"), "--profile", "quality", env=env)
    assert result.returncode == 2
    assert "kizunasr models fetch animejanai-sd-v1beta34-compact" in result.stderr


def test_example_vpy_runs_in_vspipe(tmp_path: Path) -> None:
    vspipe = Path(sys.executable).with_name("vspipe")
    if not vspipe.exists():
        pytest.skip("vspipe is not installed beside this Python")
    clip = make_clip(tmp_path, 96, 64, 3)
    out = tmp_path / "out.y4m"
    result = subprocess.run([str(vspipe), "-c", "y4m", "-a", f"input={clip}", "-a", "profile=performance",
                             "-a", "target=320x240", str(REPO / "examples" / "upscale.vpy"), str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    header = data.split(b"\n", 1)[0].decode()
    assert " W320 " in header and " H240 " in header
    assert data.count(b"FRAME") == 3


def test_model_with_nan_output_fails_with_one_line(tmp_path: Path) -> None:
    from tests.inference.test_onnx import _nan_below_model

    clip = make_clip(tmp_path, 32, 24, 3)
    model = tmp_path / "nan.onnx"
    model.write_bytes(_nan_below_model(0.6))  # NaN wherever a colour value is below 0.6: the painting has some
    profile = tmp_path / "nan.json"
    profile.write_text(json.dumps({"name": "nan", "description": "test", "requires": {"gpu": False},
                                   "ranges": [{"max_height": None, "realtime": [], "pause": [],
                                               "encode": [{"model": str(model)}]}]}))
    out = tmp_path / "out.mkv"
    result = kizunasr("encode", str(clip), str(out), "--profile", str(profile), "--codec", "ffv1",
                      "--provider", "cpu")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("kizunasr encode: onnx:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith(f"kizunasr encode: onnx: {model}: frame 0: the model's output has NaN or Inf")
    assert not out.exists()


@pytest.mark.slow
def test_output_as_o_and_8_bit_h264(tmp_path: Path) -> None:
    """-o like upscale's, -v after the sub-command, --bit-depth 8 (what hardware H.264 decoders play)."""
    clip = make_clip(tmp_path, 160, 120, 12)
    out = tmp_path / "o8.mkv"
    result = kizunasr("encode", str(clip), "-o", str(out), "--profile", "performance", "--codec", "h264",
                      "--bit-depth", "8", "--end", "2", "-v")
    assert result.returncode == 0, result.stderr
    video = [s for s in streams(out) if s["codec_type"] == "video"][0]
    assert (video["codec_name"], video["pix_fmt"], video["profile"]) == ("h264", "yuv420p", "High")
    result = kizunasr("encode", str(clip), str(tmp_path / "a.mkv"), "-o", str(tmp_path / "b.mkv"))
    assert result.returncode == 2 and "give the output once" in result.stderr
    result = kizunasr("encode", str(clip))
    assert result.returncode == 2 and "the output file is required (-o OUTPUT)" in result.stderr
