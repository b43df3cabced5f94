"""`kizunasr bench --macs` and what `--gpu-cost` says next to its timings: multiply-adds, the device, Hopper."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from kizunasr_vs.cli import gpu_cost
from kizunasr_vs.core.hardware import VulkanDevice
from tests.cli.test_cli import kizunasr

MAT4_2X = """//!HOOK LUMA
//!BIND HOOKED
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *
//!DESC one mat4 product per output pixel
vec4 hook() { return mat4(0.5) * HOOKED_tex(HOOKED_pos); }
"""


def test_bench_macs_counts_each_shader_without_rendering(tmp_path: Path) -> None:
    """A mat4 * vec4 (16) per output pixel of a 2x pass is 64 per source pixel; our learned s is compute passes."""
    shader = tmp_path / "mat4_2x.glsl"
    shader.write_text(MAT4_2X)
    result = kizunasr("bench", "--macs", str(shader), "kizuna_cnn_x2_s", "--json")
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)
    assert (first["macs"], first["kind"], len(first["passes"])) == (64, "fragment", 1)
    assert first["passes"][0]["size"] == [3840, 2160]  # the default 1920x1080 source
    assert second["kind"] == "compute" and 1_320 <= second["macs"] < 1_500  # its ONNX convolutions: 1,320
    table = kizunasr("bench", "--macs", str(shader), "--size", "640x360")
    assert table.returncode == 0, table.stderr
    assert "| mat4_2x | 1 | fragment | 64 |" in table.stdout and "640x360" in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--macs", "broken.glsl"), "pass 'broken': does not compile:"),
    (("--macs", "mat4_2x.glsl", "--gpu-cost"), "--macs counts instead of timing"),
    (("--macs", "missing.glsl"), "argument --macs: shader 'missing.glsl' not found"),
])
def test_bench_macs_refuses_bad_input_in_one_line(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    (tmp_path / "mat4_2x.glsl").write_text(MAT4_2X)
    (tmp_path / "broken.glsl").write_text(MAT4_2X.replace("0.5) *", "0.5) * no_such_value *").replace(
        "one mat4 product per output pixel", "broken"))
    result = kizunasr("bench", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_gpu_cost_rows_carry_multiply_adds_and_ms_above_the_pass_through_of_their_hook(tmp_path: Path) -> None:
    """A luma doubler is measured against a LUMA pass-through, a MAIN shader against a MAIN one."""
    main_2x = tmp_path / "main_2x.glsl"
    main_2x.write_text(MAT4_2X.replace("//!HOOK LUMA", "//!HOOK MAIN"))
    result = kizunasr("bench", "--gpu-cost", "--size", "64x48", "--frames", "2", "--shader", "kizuna_cnn_x2_s",
                      "--shader", str(main_2x), "--repeat", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["device"]["name"] and out["device"]["software"] is True  # these tests run on lavapipe
    rows = {r["shader"]: r for r in out["64x48"]}
    assert list(rows) == ["pass-through LUMA", "pass-through MAIN", "kizuna_cnn_x2_s", "main_2x",
                          "pass-through LUMA again", "pass-through MAIN again"]
    assert [rows[n]["hook"] for n in rows] == ["LUMA", "MAIN", "LUMA", "MAIN", "LUMA", "MAIN"]
    assert 1_320 <= rows["kizuna_cnn_x2_s"]["macs"] < 1_500 and rows["main_2x"]["macs"] == 64
    assert rows["pass-through LUMA"]["macs"] == 0 and rows["kizuna_cnn_x2_s"]["kind"] == "compute"
    for shader, hook in (("kizuna_cnn_x2_s", "LUMA"), ("main_2x", "MAIN")):
        pooled = rows[f"pass-through {hook}"]["samples"] + rows[f"pass-through {hook} again"]["samples"]
        pooled_cpu = rows[f"pass-through {hook}"]["cpu_samples"] + rows[f"pass-through {hook} again"]["cpu_samples"]
        assert len(pooled) == 4
        row = rows[shader]
        assert row["added_ms"] == pytest.approx(row["gpu_ms"] - statistics.median(pooled))
        assert row["added_ms_min"] == pytest.approx(row["gpu_ms_min"] - min(pooled))
        assert row["added_cpu_ms"] == pytest.approx(row["cpu_ms"] - statistics.median(pooled_cpu))
    table = kizunasr("bench", "--gpu-cost", "--size", "64x48", "--frames", "2", "--shader", "kizuna_cnn_x2_s")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("device: ") and "(lavapipe" in table.stdout.splitlines()[0]
    assert "| kizuna_cnn_x2_s | LUMA | compute | 1," in table.stdout and "| CPU added |" in table.stdout


def test_cost_renders_scale_chroma_bilinearly_so_the_players_scaling_is_small_and_equal() -> None:
    """Under gpu_timing(plain_scaling=True) a luma doubler's chroma planes reach the output size by bilinear
    interpolation (numpy reference), not vs-placebo's EWA Lanczos, which rings at a chroma step."""
    import vapoursynth as vs

    from kizunasr_vs.render.placebo import shader
    from kizunasr_vs.render.placebo_direct import gpu_timing
    from tests.vsarrays import clip_from_planes, planes_of

    h, w = 24, 32
    y, u = np.full((h, w), 32768, np.uint16), np.full((h, w), 32768, np.uint16)
    u[:, w // 2:] = 50000
    clip = clip_from_planes([y, u, y], vs.YUV444P16, _Matrix=1, _Range=1, _Primaries=1, _Transfer=1)
    bilinear = np.interp((np.arange(2 * w) + 0.5) / 2 - 0.5, np.arange(w), u[0].astype(float))

    def chroma(plain: bool) -> np.ndarray:
        with gpu_timing(plain_scaling=plain):
            out = shader(clip, [gpu_cost.passthrough("LUMA")], width=2 * w, height=2 * h, renderer="direct",
                         streams=1)
            return planes_of(out)[1].astype(float)

    assert np.abs(chroma(True) - bilinear).max() <= 1
    assert np.abs(chroma(False) - bilinear).max() > 500  # the default scaler is not bilinear


@pytest.mark.parametrize(("name", "software", "warned"), [
    ("NVIDIA H100 80GB HBM3", False, True),
    ("NVIDIA H200", False, True),
    ("NVIDIA GH200 480GB", False, True),
    ("NVIDIA GeForce RTX 4090", False, False),
    ("AMD Radeon RX 7800 XT (RADV NAVI32)", False, False),
    ("llvmpipe (LLVM 15.0.6, 256 bits)", True, False),
])
def test_gpu_cost_names_the_device_and_warns_on_hopper(name: str, software: bool, warned: bool) -> None:
    lines = gpu_cost.device_lines(VulkanDevice(name, software))
    assert lines[0].startswith(f"device: {name} (")
    assert ("lavapipe" in lines[0]) == software
    assert len(lines) == 1 + warned
    if warned:
        assert lines[1].startswith("warning: Hopper") and "fragment" in lines[1] and "compute" in lines[1]
