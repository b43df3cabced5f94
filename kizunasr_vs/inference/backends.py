"""Backends as small objects: what ``kizunasr_vs.onnx(clip, model, backend=...)`` runs a model on.

Import them as ``kz.OrtCUDA`` or ``from kizunasr_vs.inference.backends import OrtCUDA`` (not ``import
kizunasr_vs.inference.backends as b``: ``kizunasr_vs.onnx`` is the filter function). Settings are keywords.

``OrtCPU``, ``OrtCUDA``, ``OrtTensorRT`` (onnxruntime's execution providers) and ``Torch`` (the optional PyTorch
backend) carry their own settings, so a script says ``backend=OrtCUDA(fp16=True, streams=4)``. ``"auto"`` and the
names "cpu", "cuda", "tensorrt", "torch" and "torch-compile" are accepted too. ``resolve`` turns a name or
``"auto"`` into one concrete backend, once per call (calibration included).
"""

from __future__ import annotations

from dataclasses import dataclass

from kizunasr_vs.core.errors import FilterError
from kizunasr_vs.inference.ort_session import CPU, CUDA, TRT, choose_providers
from kizunasr_vs.inference.torch_backend import TORCH, TORCH_COMPILED, TORCH_PROVIDERS


@dataclass(frozen=True, kw_only=True)
class OrtCPU:
    """onnxruntime on the CPU. ``fp16``: None = off; ``streams``: concurrent sessions (None: 1)."""

    fp16: bool | None = None
    streams: int | None = None
    provider = "cpu"


@dataclass(frozen=True, kw_only=True)
class OrtCUDA:
    """onnxruntime's CUDA provider. ``fp16``: None = on for fp32 models; ``streams``: None = 2."""

    fp16: bool | None = None
    streams: int | None = None
    provider = "cuda"


@dataclass(frozen=True, kw_only=True)
class OrtTensorRT:
    """onnxruntime's TensorRT provider (engines cached by model, versions and GPU). ``fp16`` as for CUDA."""

    fp16: bool | None = None
    streams: int | None = None
    provider = "tensorrt"


@dataclass(frozen=True, kw_only=True)
class Torch:
    """The PyTorch backend on CUDA in fp16, whole frames. ``compile``: through torch.compile (slow first start,
    fastest after); ``cuda_graphs``: replay each stream's frame as a CUDA graph; ``streams``: None = 8."""

    compile: bool = False
    cuda_graphs: bool = True
    streams: int | None = None
    fp16 = True

    @property
    def provider(self) -> str:
        return TORCH_COMPILED if self.compile else TORCH


Backend = OrtCPU | OrtCUDA | OrtTensorRT | Torch
_ORT_BY_PROVIDER: dict[str, type[OrtCPU] | type[OrtCUDA] | type[OrtTensorRT]] = {
    CPU: OrtCPU, CUDA: OrtCUDA, TRT: OrtTensorRT}
BACKEND_TYPES = (OrtCPU, OrtCUDA, OrtTensorRT, Torch)


def from_name(name: str, fp16: bool | None = None, streams: int | None = None) -> Backend | None:
    """The backend a name asks for, with the loose ``fp16`` / ``streams`` settings; None for
    "auto" (decided by :func:`resolve`). Unknown names raise ``vs.Error`` listing the known ones."""
    lowered = name.lower()
    if lowered == "auto":
        return None
    if lowered in TORCH_PROVIDERS:  # fp16 always: an fp16= given with a torch name is ignored
        return Torch(compile=lowered == TORCH_COMPILED, streams=streams)
    first = choose_providers(lowered)[0]  # raises for unknown or missing providers
    return _ORT_BY_PROVIDER[first](fp16=fp16, streams=streams)


def resolve(requested: str | Backend, fp16: bool | None = None, streams: int | None = None,
            calibrated: str | None = None) -> Backend:
    """One concrete backend for ``requested`` (a backend object, a name or "auto"). For "auto", ``calibrated``
    is the torch provider `kizunasr bench --calibrate` measured fastest for this model and size, if any; else
    onnxruntime's best provider here (TensorRT > CUDA > CPU)."""
    if isinstance(requested, BACKEND_TYPES):
        if fp16 is not None or streams is not None:
            raise FilterError(f"pass fp16 and streams inside the backend object "
                              f"({type(requested).__name__}(...)), not next to it")
        return requested
    if not isinstance(requested, str):
        raise FilterError(f"backend must be 'auto', a provider name or one of "
                          f"{', '.join(t.__name__ for t in BACKEND_TYPES)}; got {type(requested).__name__}")
    chosen = from_name(requested, fp16, streams)
    if chosen is not None:
        return chosen
    if calibrated in TORCH_PROVIDERS:
        return Torch(compile=calibrated == TORCH_COMPILED, streams=streams)
    return _ORT_BY_PROVIDER[choose_providers("auto")[0]](fp16=fp16, streams=streams)
