"""The measured choice behind backend="auto" (inference/backend_choice.py) and its use by kizunasr_vs.inference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from kizunasr_vs.core import hardware
from kizunasr_vs.inference import backend_choice, onnx_filter
from kizunasr_vs.inference.ort_session import load_model
from kizunasr_vs.inference.runner_cache import RunnerCache
from kizunasr_vs.inference.torch_backend import TorchRunner
from tests.conftest import REPO
from tests.inference.test_onnx import _resize_model
from tests.vsarrays import clip_from_planes

MACHINE = "NVIDIA H100 80GB HBM3 | onnxruntime 1.31.1 | torch 2.11"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIZUNASR_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_faster_backend_is_recorded_per_machine_model_and_size(cache_dir: Path) -> None:
    assert backend_choice.lookup("abc", 1920, 1080, MACHINE) is None  # nothing measured yet
    assert backend_choice.record("abc", 1920, 1080, {"cuda": 56.6, "torch": 93.6}, MACHINE) == "torch"
    assert backend_choice.record("abc", 1280, 720, {"cuda": 90.0, "torch": 80.0}, MACHINE) == "cuda"
    assert backend_choice.lookup("abc", 1920, 1080, MACHINE) == "torch"
    assert backend_choice.lookup("abc", 1280, 720, MACHINE) == "cuda"
    assert backend_choice.lookup("abc", 640, 480, MACHINE) is None  # another size: not measured
    assert backend_choice.lookup("abc", 1920, 1080, "another GPU | onnxruntime 1.31.1 | torch 2.11") is None
    assert [p.name for p in cache_dir.iterdir()] == ["backend_choice.json"]  # no temporary file left


def test_a_broken_record_file_is_ignored_and_replaced(cache_dir: Path) -> None:
    (cache_dir / "backend_choice.json").write_text("{not json")
    assert backend_choice.lookup("abc", 1920, 1080, MACHINE) is None
    backend_choice.record("abc", 1920, 1080, {"cuda": 1.0, "torch": 2.0}, MACHINE)
    assert backend_choice.lookup("abc", 1920, 1080, MACHINE) == "torch"


def _clip(width: int = 24) -> vs.VideoNode:
    return clip_from_planes([np.full((16, width), 0.5, np.float32)] * 3, vs.RGBS, _Matrix=0, _Range=1)


def test_auto_follows_a_recorded_torch_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _resize_model([1, 1, 2, 2])
    sha, machine = load_model(model).sha256, backend_choice.machine_key()
    backend_choice.record(sha, 24, 16, {"cuda": 1.0, "torch": 2.0}, machine)
    # torch not usable here: auto keeps onnxruntime and runs
    monkeypatch.setattr(hardware, "torch_cuda_available", lambda: False)
    assert onnx_filter.onnx(_clip(), model, backend="auto").width == 48
    # torch "usable": auto takes the torch backend
    monkeypatch.setattr(hardware, "torch_cuda_available", lambda: True)
    _runs_on_torch(model)
    assert onnx_filter.backend_for(model, 24, 16) == "torch"
    # a compiled torch run measured fastest: auto names it
    backend_choice.record(sha, 24, 16, {"cuda": 1.0, "torch": 2.0, "torch-compile": 3.0}, machine)
    assert onnx_filter.backend_for(model, 24, 16) == "torch-compile"
    # another size was not calibrated: onnxruntime
    assert onnx_filter.onnx(_clip(32), model, backend="auto").width == 64
    assert onnx_filter.backend_for(model, 32, 16) == "CPUExecutionProvider"


def _runs_on_torch(model: bytes) -> None:
    """``backend="auto"`` built a torch runner: on a CUDA machine it runs; elsewhere PyTorch sees no GPU (the
    probe said yes), so starting it fails with the torch backend's own error."""
    runners = RunnerCache()
    try:
        onnx_filter.onnx(_clip(), model, backend="auto", runners=runners).get_frame(0)
    except vs.Error as exc:
        assert "the torch backend cannot run it" in str(exc)
    else:
        assert runners.builds == 1 and isinstance(next(iter(runners.runners())), TorchRunner)


def test_recorded_choices_are_listed_and_doctor_names_their_models(cache_dir: Path) -> None:
    from kizunasr_vs.models.registry import builtin_entries

    machine = backend_choice.machine_key()
    entry = builtin_entries()[0]
    backend_choice.record(entry.sha256, 1920, 1080, {"cuda": 119.4, "torch": 127.2, "torch-compile": 261.9}, machine)
    backend_choice.record("f" * 64, 640, 480, {"cuda": 2.0, "torch": 1.0}, machine)
    backend_choice.record("e" * 64, 640, 480, {"cuda": 1.0, "torch": 2.0}, "another GPU | onnxruntime 1 | torch 2")
    assert backend_choice.recorded(machine) == [(entry.sha256, 1920, 1080, "torch-compile"),
                                                ("f" * 64, 640, 480, "cuda")]
    result = subprocess.run([sys.executable, "-m", "kizunasr_vs", "doctor"], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    line = next(ln for ln in result.stdout.splitlines() if "auto choices" in ln)
    assert f"{entry.name} 1920x1080 -> torch-compile" in line and "ffffffffffff 640x480 -> cuda" in line
    assert "eeeeeeeeeeee" not in line  # another machine's record


@pytest.mark.parametrize(("providers", "trt", "torch_cuda", "timed", "missing"), [
    (["CUDAExecutionProvider", "CPUExecutionProvider"], None, True, ["cuda", "torch", "torch-compile"], None),
    (["CUDAExecutionProvider", "CPUExecutionProvider"], None, False, ["cuda"], "PyTorch sees no CUDA device"),
    (["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], "10.3.0", True,
     ["cuda", "torch", "torch-compile"], "auto choice here is TensorRT"),
    (["CPUExecutionProvider"], None, True, ["torch", "torch-compile"], "no CUDA provider"),
    (["CPUExecutionProvider"], None, False, ["cpu"], "no CUDA provider"),
])
def test_calibrate_records_only_where_auto_compares_cuda_with_torch(
        monkeypatch: pytest.MonkeyPatch, providers: list[str], trt: str | None, torch_cuda: bool, timed: list[str],
        missing: str | None) -> None:
    """What `auto` reads is written as before: only where onnxruntime's auto choice is CUDA and PyTorch has a GPU;
    elsewhere what is here is timed (the CPU provider where nothing else is) and one line says why nothing is
    recorded."""
    from kizunasr_vs.cli.bench_calibrate import calibration_backends

    monkeypatch.setattr(hardware, "onnxruntime_providers", lambda: providers)
    monkeypatch.setattr(hardware, "tensorrt_version", lambda: trt)
    monkeypatch.setattr(hardware, "torch_cuda_available", lambda: torch_cuda)
    backends, note = calibration_backends()
    assert backends == timed
    if missing is None:
        assert note is None
    else:
        assert note is not None and missing in note and "nothing recorded for backend='auto'" in note
        assert "\n" not in note
