"""Backend objects (``kizunasr_vs.inference.backends``): what names and "auto" resolve to on this machine, the errors
for mixed or unknown arguments, and a real model run through ``backend=OrtCPU(...)`` against onnxruntime."""

from __future__ import annotations

import inspect

import numpy as np
import onnxruntime as ort
import pytest
import vapoursynth as vs

import kizunasr_vs as kz
from kizunasr_vs.inference.backends import OrtCPU, OrtCUDA, OrtTensorRT, Torch, resolve
from tests.conftest import shared_model
from tests.inference.test_onnx import SUC, _image, _ort_direct, _rgbs, _stack

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


def test_names_resolve_to_their_backend_objects() -> None:
    assert resolve("cpu", streams=2) == OrtCPU(streams=2)
    assert resolve("torch") == Torch()
    assert resolve("Torch-Compile", streams=4) == Torch(compile=True, streams=4)
    assert resolve("auto", calibrated="torch-compile") == Torch(compile=True)
    assert resolve(OrtCUDA(fp16=False)) == OrtCUDA(fp16=False)  # an object is taken as it is
    assert resolve("torch", fp16=False) == Torch()  # fp16 only: the setting is ignored, as provider="torch" did
    assert Torch(compile=True).provider == "torch-compile" and OrtTensorRT().provider == "tensorrt"


@pytest.mark.skipif(HAS_CUDA, reason="onnxruntime here has CUDA: 'auto' would not be the CPU")
def test_auto_is_the_cpu_without_a_gpu_provider_and_cuda_says_what_to_install() -> None:
    assert resolve("auto", fp16=False) == OrtCPU(fp16=False)
    with pytest.raises(vs.Error, match="pip install onnxruntime-gpu"):
        resolve("cuda")


def test_bad_backend_arguments_are_clear_errors() -> None:
    with pytest.raises(vs.Error, match="inside the backend object"):
        resolve(OrtCPU(), streams=2)
    with pytest.raises(vs.Error, match="backend must be"):
        resolve(42)  # type: ignore[arg-type]
    with pytest.raises(vs.Error, match="provider must be"):
        resolve("gpu")
    with pytest.raises(TypeError):
        OrtCPU(4)  # type: ignore[misc]  # settings are keywords: a bare 4 must not become fp16


def test_backend_object_runs_the_real_model_like_onnxruntime() -> None:
    model = shared_model(SUC)
    image = _image(48, 64)
    out = kz.onnx(_rgbs(image), str(model), backend=kz.OrtCPU(streams=2))
    assert (out.width, out.height) == (128, 96)
    assert np.abs(_stack(out) - _ort_direct(model, image)).max() <= 1e-5


def test_the_deprecated_provider_spelling_still_runs_and_warns() -> None:
    """``provider="cpu", streams=2`` (the 0.1 spelling) gives what ``backend=OrtCPU(streams=2)`` gives."""
    model = shared_model(SUC)
    image = _image(16, 24)
    with pytest.warns(DeprecationWarning, match="backend="):
        old = kz.onnx(_rgbs(image), str(model), provider="cpu", streams=2)
    assert np.abs(_stack(old) - _ort_direct(model, image)).max() <= 1e-5
    with pytest.warns(DeprecationWarning), pytest.raises(vs.Error, match="not both"):
        kz.onnx(_rgbs(image), str(model), provider="cpu", backend=OrtCPU())


def test_onnx_has_a_real_signature_with_keyword_settings() -> None:
    """What editors and ``help(kz.onnx)`` show: the clip and model, then keywords only, backend first."""
    params = inspect.signature(kz.onnx).parameters
    assert list(params)[:3] == ["clip", "model", "backend"]
    assert all(p.kind == p.KEYWORD_ONLY for name, p in params.items() if name not in ("clip", "model"))
    assert not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params.values())
    assert params["backend"].default == "auto"
    with pytest.raises(TypeError):
        kz.onnx(_rgbs(_image(8, 8)), "m.onnx", "cpu")  # type: ignore[misc]
