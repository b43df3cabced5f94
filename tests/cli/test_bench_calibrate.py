"""`kizunasr bench --calibrate` on the CPU: the onnx filter and the model alone side by side, their ratio and the
precision that ran (real onnxruntime CPU, real VapourSynth, tiny models built here)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from kizunasr_vs.cli import bench_calibrate
from kizunasr_vs.cli.bench_timing import WARM_FRAMES
from kizunasr_vs.inference.ort_session import CUDA, available_providers
from kizunasr_vs.inference.runner import DirectRunner
from tests.cli.test_cli import kizunasr

pytestmark = pytest.mark.skipif(CUDA in available_providers(),
                                reason="onnxruntime has CUDA here: --calibrate times the GPU backends")

ROW = re.compile(r"^(\S+)\s+(\d+x\d+)\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.e-]+)\s*(\S*)$")


def tiny_sr_model(path: Path, dtype: int) -> Path:
    """A 2x network of the shape of the compact SR models: a 3x3 conv to 12 channels, ReLU, DepthToSpace."""
    weights = np.random.default_rng(1).normal(0, 0.2, (12, 3, 3, 3))
    np_type = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("DepthToSpace", ["r"], ["y"], blocksize=2, mode="CRD")],
        "tiny_sr", [helper.make_tensor_value_info("x", dtype, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("y", dtype, ["n", 3, "oh", "ow"])],
        [numpy_helper.from_array(weights.astype(np_type), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize(("dtype", "precision"), [(TensorProto.FLOAT, "fp32"), (TensorProto.FLOAT16, "fp16")])
def test_calibrate_on_the_cpu_prints_the_filter_next_to_the_model_alone(tmp_path: Path, dtype: int,
                                                                        precision: str) -> None:
    model = tiny_sr_model(tmp_path / "tiny.onnx", dtype)
    env = {**os.environ, "KIZUNASR_CACHE_DIR": str(tmp_path / "cache")}
    args = ("bench", "--calibrate", "--model", str(model), "--size", "32x24", "--size", "40x32", "--frames", "2")
    text = kizunasr(*args, env=env)
    assert text.returncode == 0, text.stderr
    # one line says why only the CPU ran and that auto got no record; the record file stays unwritten
    notes = [ln for ln in text.stderr.splitlines() if ln.startswith("kizunasr bench --calibrate:")]
    assert len(notes) == 1 and "no CUDA provider" in notes[0] and "nothing recorded" in notes[0]
    assert not (tmp_path / "cache" / "backend_choice.json").exists()
    rows = [m.groups() for m in map(ROW.match, text.stdout.splitlines()) if m]
    assert [(r[0], r[1]) for r in rows] == [("cpu", "32x24"), ("cpu", "40x32")]
    for _, _, ran, filter_fps, alone_fps, ratio, recorded in rows:
        assert ran == precision  # the model's own type: onnxruntime's CPU provider converts nothing
        assert float(filter_fps) > 0 and float(alone_fps) > 0
        assert float(ratio) == float(f"{float(filter_fps) / float(alone_fps):.3g}")  # 3 significant digits
        assert recorded == ""

    result = kizunasr(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["recorded"] is False and out["note"] == notes[0]
    assert [r["size"] for r in out["results"]] == ["32x24", "40x32"]
    for r in out["results"]:
        assert (r["provider"], r["precision"], r["model_alone_precision"]) == ("cpu", precision, precision)
        assert r["filter_fps"] > 0 and r["model_alone_fps"] > 0
        assert r["ratio"] == float(f"{r['filter_fps'] / r['model_alone_fps']:.3g}")
        assert "CPUExecutionProvider session on host buffers" in r["model_alone"] and r["recorded"] is False


def test_the_model_alone_runs_no_frame_through_the_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The filter's frames each go through its runner's run_frame (the ModifyFrame callback); while the model alone
    is timed none does, and each of its calls runs the session directly."""
    model = tiny_sr_model(tmp_path / "tiny.onnx", TensorProto.FLOAT)
    frames_through_filter = 0
    real_run_frame = DirectRunner.run_frame

    def counted_run_frame(self: DirectRunner, src: object, out: object) -> bool:
        nonlocal frames_through_filter
        frames_through_filter += 1
        return real_run_frame(self, src, out)  # type: ignore[arg-type]

    timed: list[tuple[int, int, int]] = []  # (filter frames before, calls of the model alone, filter frames after)
    real_time_calls = bench_calibrate.time_calls

    def watched_time_calls(call: object, frames: int, rounds: int = 1, warm: int = 1) -> float:
        calls = 0

        def counted() -> object:
            nonlocal calls
            calls += 1
            return call()  # type: ignore[operator]

        before = frames_through_filter
        fps = real_time_calls(counted, frames, rounds, warm)
        timed.append((before, calls, frames_through_filter))
        return fps

    monkeypatch.setattr(DirectRunner, "run_frame", counted_run_frame)
    monkeypatch.setattr(bench_calibrate, "time_calls", watched_time_calls)
    row, _ = bench_calibrate.calibration_row(model, "cpu", 32, 24, frames=3)
    (before, calls, after), = timed
    assert before >= WARM_FRAMES + 3  # the filter ran its frames first, through VapourSynth
    assert calls == WARM_FRAMES + bench_calibrate.ROUNDS * 3 and after == before  # the model alone: none
    assert row["model_alone_fps"] > 0 and row["precision"] == "fp32"


def test_plain_bench_states_the_precision_of_each_onnx_row(tmp_path: Path) -> None:
    """Outside --calibrate the onnx rows say which precision ran too (the model's type on the CPU provider)."""
    model = tiny_sr_model(tmp_path / "tiny16.onnx", TensorProto.FLOAT16)
    result = kizunasr("bench", "--skip", "shader", "--model", str(model), "--size", "32x24", "--frames", "2", "--yuv",
                      "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"]
    assert len(rows) == 3 and all(r["precision"] == "fp16" and r["baseline_fps"] > 0 for r in rows)
