"""Shaders and models by name everywhere (API, .vpy scripts run by vspipe, CLI, profiles), relative paths from the
script's folder, built-in names that a file in the current folder never shadows, and errors naming what was
searched. Real vs-placebo, onnxruntime, vspipe and AnimeJaNai models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

import kizunasr_vs as kz
from kizunasr_vs.models.store import find_model
from tests.conftest import REPO, models_dir, shared_model

VSPIPE = Path(sys.executable).parent / "vspipe"
SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
HALF = """//!HOOK MAIN
//!BIND HOOKED
//!WIDTH HOOKED.w 2 /
//!HEIGHT HOOKED.h 2 /
//!DESC test half size
vec4 hook() { return HOOKED_tex(HOOKED_pos); }
"""


def _clip(fmt: int = vs.YUV420P8) -> vs.VideoNode:
    clip = vs.core.std.BlankClip(format=vs.RGB24, width=64, height=48, length=1, color=[200, 40, 90])
    clip = vs.core.std.SetFrameProps(clip, _Matrix=0, _Transfer=1, _Primaries=1, _Range=0)
    if fmt == vs.RGB24:
        return clip
    return clip.resize.Bicubic(format=fmt) if fmt == vs.RGBS else clip.resize.Bicubic(format=fmt, matrix=1)


def _planes(clip: vs.VideoNode) -> list[np.ndarray]:
    frame = clip.get_frame(0)
    return [np.asarray(frame[i]).copy() for i in range(frame.format.num_planes)]


def test_builtin_shader_names_with_and_without_suffix() -> None:
    by_path = kz.shader(_clip(), str(REPO / "glsl" / "kizuna_edge2x.glsl"))
    for name in ("kizuna_edge2x", "kizuna_edge2x.glsl"):
        out = kz.shader(_clip(), name)
        assert (out.width, out.height) == (128, 96)
        for a, b in zip(_planes(out), _planes(by_path), strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_file_in_the_current_folder_never_shadows_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kizuna_edge2x.glsl").write_text(HALF)
    (tmp_path / "kizuna_deband.glsl").write_text(HALF)
    monkeypatch.chdir(tmp_path)
    assert kz.shader(_clip(), "kizuna_edge2x.glsl").width == 128  # the package's 2x, not the half-size file
    assert kz.shader(_clip(), "kizuna_deband").width == 64
    assert kz.shader(_clip(), "./kizuna_edge2x.glsl").width == 32  # a path is a path
    out = kz.upscale(_clip(), str(REPO / "profiles" / "performance.json"))  # SD chain: deband, edge2x x2, ...
    assert (out.width, out.height) == (256, 192)


def test_missing_shader_names_the_folders_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(vs.Error, match=r"^shader: shader 'nope\.glsl' not found; searched: built-in shaders "
                                       rf"\({REPO / 'glsl'}\), {tmp_path}"):
        kz.shader(_clip(), "nope.glsl")


def test_onnx_by_registry_name_and_models_folder_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = shared_model(SUC)
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(models_dir()))
    monkeypatch.chdir(tmp_path)
    rgb = _clip(vs.RGBS)
    want = _planes(kz.onnx(rgb, str(path), backend="cpu"))
    for name in ("animejanai-hd-v3-superultracompact", SUC, SUC.removesuffix(".onnx")):
        for a, b in zip(_planes(kz.onnx(rgb, name, backend="cpu")), want, strict=True):
            np.testing.assert_array_equal(a, b)
    assert find_model(SUC) == models_dir() / SUC


def test_missing_model_names_what_was_searched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(vs.Error, match=r"^onnx: model 'x\.onnx' not found; searched: the model registry .*, the "
                                       rf"models folder \({tmp_path / 'models'}\), {tmp_path} \(`kizunasr models"):
        kz.onnx(_clip(vs.RGBS), "x.onnx")
    for name in ("animejanai-hd-v3-compact", "2x_AnimeJaNai_HD_V3_Compact-fp32.onnx"):
        with pytest.raises(vs.Error, match="kizunasr models fetch animejanai-hd-v3-compact"):
            kz.onnx(_clip(vs.RGBS), name)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: kz.onnx("x", SUC), r"^onnx: the first argument must be a video clip"),
    (lambda: kz.shader(None, "kizuna_edge2x"), r"^shader: the first argument must be a video clip"),
    (lambda: kz.shader(_clip(), 3), r"^shader: shaders must be built-in names, paths or shader source text"),
    (lambda: kz.onnx(_clip(vs.RGBS), 3), r"^onnx: model must be a registry name"),
    (lambda: kz.upscale(_clip(), "performance", target="big"), r"^upscale: target 'big' must look like 3840x2160"),
    (lambda: kz.upscale(None), r"^upscale: the first argument must be a video clip"),
    (lambda: kz.upscale(_clip(vs.YUV410P8), "performance", target=(128, 100)), r"^upscale: AddBorders"),  # a helper
])
def test_bad_arguments_are_vs_errors_named_after_the_function(call: object, message: str) -> None:
    with pytest.raises(vs.Error, match=message):
        call()  # type: ignore[operator]


def test_upscale_takes_a_target_string() -> None:
    out = kz.upscale(_clip(), "performance", target="100x80")
    assert (out.width, out.height) == (100, 80)


def test_vpy_resolves_relative_paths_from_its_folder(tmp_path: Path) -> None:
    """A .vpy in another folder, run by vspipe from elsewhere: its own folder's files, built-in shader names and
    models by file name in $KIZUNASR_MODELS_DIR all resolve."""
    shared_model(SUC)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "half.glsl").write_text(HALF)
    (scripts / "t.vpy").write_text(
        "import vapoursynth as vs\nimport kizunasr_vs as kz\n"
        "clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=64, height=48, length=1)\n"
        "clip = kz.shader(clip, 'kizuna_edge2x')\n"
        "clip = kz.shader(clip, 'half.glsl')\n"
        f"clip = kz.onnx(clip, '{SUC}', backend='cpu')\n"
        "clip.set_output()\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    result = subprocess.run([str(VSPIPE), "-i", "../scripts/t.vpy", "-"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Width: 128" in result.stdout and "Height: 96" in result.stdout


def test_readme_vpy_example_runs_as_written(tmp_path: Path) -> None:
    """The README's .vpy example, unchanged, in vspipe next to an episode.mkv, with the models in
    $KIZUNASR_MODELS_DIR: a model by registry name, then a built-in shader by name."""
    shared_model("2x_AnimeJaNai_HD_V3_Compact-fp32.onnx")
    readme = (REPO / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'kz.onnx(clip, "animejanai-hd-v3-compact")' in example and "episode.mkv" in example
    (tmp_path / "example.vpy").write_text(example)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-t", "0.4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tmp_path / "episode.mkv")], check=True, timeout=60)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    result = subprocess.run([str(VSPIPE), "-e", "0", "-c", "y4m", "example.vpy", "out.y4m"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    header = (tmp_path / "out.y4m").read_bytes()[:80].split(b"\n")[0].split()
    assert b"W320" in header and b"H240" in header
