"""The `kizunasr` command line end to end: real VapourSynth, vs-placebo, onnxruntime and ffmpeg."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kizunasr_vs.runtime import placebo_direct
from tests.conftest import REPO, shared_model

KIZUNASR = [sys.executable, "-m", "kizunasr_vs"]


def kizunasr(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*KIZUNASR, *args], capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=600)


def video_stream(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_streams",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["streams"][0]


def test_help_lists_commands() -> None:
    result = kizunasr("--help")
    assert result.returncode == 0
    for command in ("doctor", "upscale", "encode", "bench"):
        assert command in result.stdout


def test_doctor_reports_the_vulkan_device_and_providers() -> None:
    result = kizunasr("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok  ] vulkan" in result.stdout
    assert "CPUExecutionProvider" in result.stdout
    expected = "direct (our renderer" if placebo_direct.available() else "vs-placebo (its bundled"
    assert f"shader renderer {expected}" in result.stdout


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_upscale_with_no_input_uses_the_builtin_sample_and_a_shader(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KIZUNASR_MODELS_DIR"}
    env["PYTHONPATH"] = str(REPO)
    result = kizunasr("upscale", "--end", "4", "--codec", "h264", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "shader kizuna_edge2x.glsl" in result.stderr
    stream = video_stream(tmp_path / "out" / "sample_2x.mkv")
    assert (stream["width"], stream["height"], int(stream["nb_read_frames"])) == (1280, 720, 4)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_upscale_with_a_model(tmp_path: Path) -> None:
    model = shared_model("2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx")
    result = kizunasr("upscale", "--end", "2", "--codec", "h264", "--model", str(model), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "model 2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx" in result.stderr
    stream = video_stream(tmp_path / "out" / "sample_2x.mkv")
    assert (stream["width"], stream["height"], int(stream["nb_read_frames"])) == (1280, 720, 2)


def test_missing_input_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    result = kizunasr("upscale", str(tmp_path / "nope.mkv"), str(tmp_path / "out.mkv"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bench_times_a_shader_chain_next_to_one_placebo_shader_per_shader() -> None:
    result = kizunasr("bench", "--skip", "onnx", "--size", "64x48", "--frames", "2", "--shader", "kizuna_edge2x.glsl",
                      "--shader", "kizuna_cas.glsl", "--instances", "2", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["results"]
    assert row["what"] == "shader kizuna_edge2x.glsl + kizuna_cas.glsl"
    assert row["provider"] in (f"direct streams={placebo_direct.DEFAULT_STREAMS}", "vs-placebo instances=2")
    assert row["baseline"] == "placebo.Shader per shader"
    assert row["filter_fps"] > 0 and row["baseline_fps"] > 0
