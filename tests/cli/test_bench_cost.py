"""`kizunasr bench --macs` and what `--gpu-cost` says next to its timings: multiply-adds, the device, Hopper."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

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
    assert second["kind"] == "compute" and second["macs"] > 12_000
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


def test_gpu_cost_rows_carry_multiply_adds_and_ms_above_the_pooled_pass_through() -> None:
    result = kizunasr("bench", "--gpu-cost", "--size", "64x48", "--frames", "2", "--shader", "kizuna_cnn_x2_s",
                      "--repeat", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["device"]["name"] and out["device"]["software"] is True  # these tests run on lavapipe
    rows = out["64x48"]
    assert [r["macs"] for r in rows][0::2] == [0, 0] and rows[1]["macs"] > 12_000
    assert [r["kind"] for r in rows] == ["fragment", "compute", "fragment"]
    pooled = rows[0]["samples"] + rows[2]["samples"]
    assert len(pooled) == 4
    assert rows[1]["added_ms"] == pytest.approx(rows[1]["gpu_ms"] - statistics.median(pooled))
    assert rows[1]["added_ms_min"] == pytest.approx(rows[1]["gpu_ms_min"] - min(pooled))
    table = kizunasr("bench", "--gpu-cost", "--size", "64x48", "--frames", "2", "--shader", "kizuna_cnn_x2_s")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("device: ") and "(lavapipe" in table.stdout.splitlines()[0]
    assert "| kizuna_cnn_x2_s | compute | 12," in table.stdout


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
