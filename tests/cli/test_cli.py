"""The `kizunasr` command line end to end: real VapourSynth, vs-placebo, onnxruntime and ffmpeg."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kizunasr_vs.render import placebo_direct
from kizunasr_vs.render.placebo import renderer_choice
from tests.conftest import REPO, models_dir, shared_model

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
    renderer, why = renderer_choice()
    assert f"shader renderer {renderer}: {why}" in result.stdout


@pytest.mark.slow
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
    assert row["renderer_why"] == renderer_choice()[1]
    assert row["filter_fps"] > 0 and row["baseline_fps"] > 0


def test_bench_gpu_cost_times_every_pass_next_to_a_pass_through() -> None:
    """The learned s shader has 5 passes of its own: its rows must count at least 5 timed passes a frame (and
    more than its pass-through's), the pass-through rows at least 1, and every GPU time must be positive
    (libplacebo's timers on lavapipe)."""
    result = kizunasr("bench", "--gpu-cost", "--size", "64x48", "--frames", "2", "--shader", "kizuna_cnn_x2_s",
                      "--shader", "kizuna_cas", "--repeat", "2", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["64x48"]
    assert [r["shader"] for r in rows] == ["pass-through LUMA", "pass-through MAIN", "kizuna_cnn_x2_s", "kizuna_cas",
                                           "pass-through LUMA again", "pass-through MAIN again"]  # one per hook
    assert rows[2]["passes"] >= 5 + rows[0]["passes"] - 1 and rows[0]["passes"] >= 1
    assert all(r["rounds"] == 2 and 0 < r["gpu_ms_min"] <= r["gpu_ms"] and r["wall_ms"] > 0 for r in rows)


@pytest.mark.parametrize(("args", "message"), [
    (("bench", "--size", "abc"), "argument --size: 'abc' is not a size like 1920x1080"),
    (("bench", "--gpu-cost", "--shader", "kizuna_cas", "--repeat", "0"), "--repeat must be >= 1, not 0"),
    (("bench", "--repeat", "3"), "--repeat goes with --gpu-cost"),
    (("bench", "--model", "no-such-model"), "argument --model: model 'no-such-model' not found; searched: "),
    (("bench", "--provider", "gpu"), "argument --provider: invalid choice: 'gpu'"),
    (("encode", "missing.mkv", "out.mkv", "--crf", "99"), "argument --crf: '99' is not a CRF from 0 to 51"),
    (("encode", "missing.mkv", "out.mkv", "--target", "4k"), "argument --target: '4k' is not a size"),
    (("encode", "missing.mkv", "out.mkv", "--provider", "gpu"), "argument --provider: invalid choice: 'gpu'"),
    (("upscale", "--shader", "nope"), "argument --shader: shader 'nope' not found; searched: built-in shaders"),
])
def test_bad_options_are_usage_errors_before_any_source_is_opened(args: tuple[str, ...], message: str,
                                                                  tmp_path: Path) -> None:
    result = kizunasr(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "does not exist" not in result.stderr


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_upscale_picks_the_model_for_the_source_height_and_takes_o(tmp_path: Path) -> None:
    """The sample is 360 lines: the SD model, not the smallest HD one; -o and -v after the sub-command."""
    shared_model("2x_AnimeJaNai_SD_V1beta34_Compact-fp32.onnx")
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    result = kizunasr("upscale", "-v", "--end", "1", "--codec", "h264", "--provider", "cpu", "-o", "x.mkv",
                      cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "model 2x_AnimeJaNai_SD_V1beta34_Compact-fp32.onnx" in result.stderr
    assert video_stream(tmp_path / "x.mkv")["width"] == 1280


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_upscale_takes_a_registry_name_a_profile_and_a_target(tmp_path: Path) -> None:
    shared_model("2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx")
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    result = kizunasr("upscale", "--end", "1", "--codec", "h264", "--model", "animejanai-hd-v3-superultracompact",
                      "--provider", "cpu", "--target", "1000x500", "-o", "a.mkv", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "model 2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx" in result.stderr
    assert (video_stream(tmp_path / "a.mkv")["width"], video_stream(tmp_path / "a.mkv")["height"]) == (1000, 500)
    result = kizunasr("upscale", "--end", "1", "--codec", "h264", "--profile", "performance", "-o", "b.mkv",
                      cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "profile performance" in result.stderr
    assert video_stream(tmp_path / "b.mkv")["width"] == 2560  # the SD chain runs edge2x twice


def test_every_sub_command_has_a_plain_description() -> None:
    from kizunasr_vs.cli.main import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) >= {"doctor", "upscale", "encode", "batch", "models", "bench", "export-glsl",
                                "train", "install-mpv", "play", "worker"}
    for name, command in sub.choices.items():
        text = command.format_help()
        assert command.description and command.description[0].isupper(), name
        assert "`" not in text, f"{name}: {text}"


def test_export_glsl_takes_the_output_either_way(tmp_path: Path) -> None:
    shared_model("2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx")
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    for args in (["a.glsl"], ["-o", "b.glsl"]):
        result = kizunasr("export-glsl", "animejanai-hd-v3-superultracompact", *args, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / args[-1]).read_text().startswith("//")


def test_verbose_after_the_sub_command() -> None:
    for args in (["models", "list", "-v"], ["models", "-v", "list"], ["-v", "models", "list"]):
        result = kizunasr(*args)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        assert "models directory:" in result.stdout
