"""The one hardware identity (core/hardware.py): what the backend calibration and the TensorRT engine cache are
keyed by. No GPU here: the CUDA driver is faked at its boundary (the driver API's calls), numbering devices after
``CUDA_VISIBLE_DEVICES`` as the real driver does."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from kizunasr_vs.core import hardware
from kizunasr_vs.inference import backend_choice, ort_session


class FakeCudaDriver:
    """``cuInit``, ``cuDeviceGet``, ``cuDeviceGetName`` and ``cuDriverGetVersion`` of a machine with these GPUs
    (nvidia-smi's order); CUDA's device n is the n-th of ``CUDA_VISIBLE_DEVICES`` (indices), as in libcuda."""

    def __init__(self, gpus: list[str], version: int = 12040) -> None:
        self.gpus, self.version = gpus, version
        self.ordinals: list[int] = []  # the devices asked for

    def _visible(self) -> list[str]:
        chosen = os.environ.get("CUDA_VISIBLE_DEVICES")
        return self.gpus if chosen is None else [self.gpus[int(i)] for i in chosen.split(",") if i]

    def cuInit(self, flags: int) -> int:  # noqa: N802 - the driver API's names
        return 0

    def cuDeviceGet(self, device: object, ordinal: int) -> int:  # noqa: N802
        self.ordinals.append(ordinal)
        if ordinal >= len(self._visible()):
            return 101  # CUDA_ERROR_INVALID_DEVICE
        ctypes.cast(device, ctypes.POINTER(ctypes.c_int)).contents.value = ordinal
        return 0

    def cuDeviceGetName(self, buffer: ctypes.Array[ctypes.c_char], size: int, device: ctypes.c_int) -> int:  # noqa: N802
        buffer.value = self._visible()[device.value].encode()[:size - 1]
        return 0

    def cuDriverGetVersion(self, version: object) -> int:  # noqa: N802
        ctypes.cast(version, ctypes.POINTER(ctypes.c_int)).contents.value = self.version
        return 0


MACHINE = ["NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"]


def test_the_identity_is_the_gpu_cuda_runs_on_after_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    driver = FakeCudaDriver(MACHINE)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert hardware.read_identity(driver, "1.22.0", None, None).gpu == "NVIDIA A100-SXM4-40GB"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # nvidia-smi's GPU 0 is not the one in use
    ident = hardware.read_identity(driver, "1.22.0", "2.5.0", "10.3.0")
    assert ident == hardware.Identity("NVIDIA H100 80GB HBM3", "12.4", "1.22.0", "2.5.0", "10.3.0")
    assert ident.key == ("NVIDIA H100 80GB HBM3 | driver 12.4 | onnxruntime 1.22.0 | torch 2.5.0 | "
                         "tensorrt 10.3.0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible
    assert hardware.read_identity(driver, "1.22.0", None, None).gpu == "no-gpu"
    # what the code itself must do: ask CUDA for its device 0 (the GPU work runs on), never by nvidia-smi's index
    assert set(driver.ordinals) == {0}


def test_without_a_driver_the_identity_says_so() -> None:
    ident = hardware.read_identity(None, "1.22.0", None, None)
    assert (ident.gpu, ident.driver, ident.torch, ident.tensorrt) == ("no-gpu", "none", "none", "none")
    assert "/" not in ident.slug and " " not in ident.slug


def test_calibration_and_tensorrt_cache_share_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Both follow ``hardware.identity()``: another GPU, driver or version gives another record and engine."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    seen = {}
    for name, version in (("a", 12040), ("b", 12060)):
        ident = hardware.read_identity(FakeCudaDriver(MACHINE, version), "1.22.0", None, "10.3.0")
        monkeypatch.setattr(hardware, "identity", lambda device_id=0, ident=ident: ident)
        seen[name] = (backend_choice.machine_key(), ort_session.trt_cache_dir("ab" * 32, True).name)
        assert seen[name][0] == ident.key and seen[name][1].startswith(ident.slug)
    assert seen["a"][0] != seen["b"][0] and seen["a"][1] != seen["b"][1]  # the driver changed
    assert "H100" in seen["a"][1] and "A100" not in seen["a"][1]
