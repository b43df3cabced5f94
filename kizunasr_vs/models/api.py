"""``kizunasr_vs.onnx`` as users call it: the model may be a registry name or a file in the models folder.

The filter itself (``inference.onnx_filter.onnx``) sits below the model registry and takes paths or bytes; this
resolves names first (``store.find_model``: registry, models folder, then paths), with the same error style.
"""

from __future__ import annotations

import os
import warnings

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError, named_errors
from kizunasr_vs.inference import onnx_filter
from kizunasr_vs.inference.backends import Backend
from kizunasr_vs.inference.onnx_filter import Pair
from kizunasr_vs.inference.runner_cache import RunnerCache
from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.models.store import find_model


@named_errors(onnx_filter.WHO)
def onnx(
    clip: vs.VideoNode,
    model: str | os.PathLike[str] | bytes,
    *,
    backend: str | Backend = "auto",
    tile: Pair | None = None,
    overlap: Pair | None = None,
    output_format: int | None = None,
    pad_multiple: int | None = None,
    yuv_io: bool | None = None,
    runners: RunnerCache | None = None,
    provider: str | None = None,
    fp16: bool | None = None,
    streams: int | None = None,
) -> vs.VideoNode:
    """Upscale ``clip`` with an ONNX image model.

    model: a registry name (`kizunasr models list`), a file in the models folder, a path, or the model's bytes.
    backend: ``"auto"`` (what `kizunasr bench --calibrate` measured fastest for this model and size, else
        TensorRT > CUDA > CPU), or an object with its settings: ``kz.OrtCPU(streams=)``, ``kz.OrtCUDA(fp16=,
        streams=)``, ``kz.OrtTensorRT(fp16=, streams=)``, ``kz.Torch(compile=, cuda_graphs=, streams=)``; the
        names "cpu", "cuda", "tensorrt", "torch" and "torch-compile" give those with their defaults.
    tile: owned tile size, int or (width, height); None = whole frame (unless the model's input size is fixed
        and smaller). overlap: context per side around each tile (default 16).
    output_format: a ``vs.PresetVideoFormat`` for the result; None = the input's format.
    pad_multiple: the model needs H and W divisible by this (crops are grown or edge-padded).
    yuv_io: convert integer YUV to the model's RGB and back on the GPU instead of with zimg on the CPU;
        None = on for GPU backends where the clip, the output format and the run allow it.
    runners: where built sessions and torch modules are kept for reuse (``RunnerCache()``); None = the process's
        shared cache, so that later calls with the same model and settings start warm.
    provider, fp16, streams: deprecated spelling of ``backend`` (``provider="cuda", fp16=False`` is
        ``backend=kz.OrtCUDA(fp16=False)``); still accepted, with a DeprecationWarning.
    """
    if provider is not None or fp16 is not None or streams is not None:
        backend = _from_deprecated(backend, provider, fp16, streams)
    if isinstance(clip, vs.VideoNode) and isinstance(model, str | os.PathLike):
        try:
            model = find_model(model)
        except (FileNotFoundError, ModelError) as exc:
            raise FilterError(str(exc)) from None
    return onnx_filter.onnx(clip, model, backend=backend, tile=tile, overlap=overlap, output_format=output_format,
                            pad_multiple=pad_multiple, yuv_io=yuv_io, runners=runners, fp16=fp16, streams=streams)


def _from_deprecated(backend: str | Backend, provider: str | None, fp16: bool | None,
                     streams: int | None) -> str | Backend:
    """The backend that ``provider`` (with ``fp16`` / ``streams`` left for the filter to apply) names."""
    warnings.warn("kizunasr_vs.onnx: provider=, fp16= and streams= are deprecated; pass backend= with a backend "
                  "object, e.g. backend=kz.OrtCUDA(fp16=False, streams=2)", DeprecationWarning, stacklevel=4)
    if provider is None:
        return backend
    if backend != "auto":
        raise FilterError("pass backend= or provider= (its deprecated alias), not both")
    return provider
