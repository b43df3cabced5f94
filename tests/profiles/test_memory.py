"""Memory before work (profiles/memory.py): a chain that would not fit runs its models in tiles, or is refused
with how much it needs. A low --max-memory stands in for a large source on a small machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.profiles.memory import TILES, estimate, fit, widest_convolution
from tests.conftest import REPO, models_dir, shared_model

SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"


def test_widest_convolution_is_read_from_the_graph() -> None:
    assert widest_convolution(shared_model(SUC)) == 24  # SuperUltraCompact: 24 features
    assert widest_convolution(shared_model("2x_AnimeJaNai_HD_V3_Compact-fp32.onnx")) == 64


def test_a_chain_too_large_for_the_memory_gets_tiles_or_is_refused() -> None:
    steps = [{"model": str(shared_model(SUC))}]
    whole = estimate(steps, (7680, 4320), cpu=True)
    assert whole > 16 << 30  # 8K through a model on the CPU, whole frames: more than 16 GiB
    assert estimate(steps, (7680, 4320), cpu=False) < whole / 3  # on a GPU the activations are not in RAM
    fitted = fit(steps, (7680, 4320), cpu=True, available=8 << 30)
    assert fitted.tile in TILES and fitted.needed <= 8 << 30 and fitted.steps == [{**steps[0], "tile": fitted.tile}]
    assert fit(steps, (640, 360), cpu=True, available=8 << 30).tile is None  # it fits: unchanged
    refused = fit(steps, (7680, 4320), cpu=True, available=1 << 30)
    assert refused.tile is None and refused.needed > 1 << 30


def upscale(tmp_path: Path, name: str, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    return subprocess.run([sys.executable, "-m", "kizunasr_vs", "upscale", "--model", str(shared_model(SUC)),
                           "--provider", "cpu", "--end", "1", "--codec", "ffv1", "-o", name, *options],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)


def test_upscale_runs_in_tiles_within_the_memory_given_and_refuses_below_it(tmp_path: Path) -> None:
    whole = upscale(tmp_path, "whole.mkv")
    assert whole.returncode == 0, whole.stderr
    tiled = upscale(tmp_path, "tiled.mkv", "--max-memory", "100M")  # 640x360 whole needs about 127 MiB
    assert tiled.returncode == 0, tiled.stderr
    assert "the models run in 384-pixel tiles" in tiled.stderr
    a, b = vs.core.bs.VideoSource(str(tmp_path / "whole.mkv")), vs.core.bs.VideoSource(str(tmp_path / "tiled.mkv"))
    for plane in range(3):  # tiles with enough overlap give the same picture
        diff = np.abs(np.asarray(a.get_frame(0)[plane], np.int32) - np.asarray(b.get_frame(0)[plane], np.int32))
        assert diff.max() <= 1, plane
    refused = upscale(tmp_path, "no.mkv", "--max-memory", "20M")
    assert refused.returncode == 2
    lines = [line for line in refused.stderr.splitlines() if line.startswith("kizunasr upscale:")]
    assert len(lines) == 1 and "the chain needs about 42 MiB of memory for 640x360 frames" in lines[0], refused.stderr
    assert "20 MiB is available" in lines[0] and "Traceback" not in refused.stderr
    assert not (tmp_path / "no.mkv").exists()


@pytest.mark.parametrize(("text", "size"), [("8G", 8 << 30), ("1.5GiB", 3 << 29), ("500M", 500 << 20),
                                            ("4096", 4096)])
def test_max_memory_reads_sizes(text: str, size: int) -> None:
    from kizunasr_vs.cli.options import memory

    assert memory(text) == size
