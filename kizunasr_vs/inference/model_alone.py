"""The model alone: the network a backend runs, without the filter around it (`kizunasr bench --calibrate`).

The same network in the same precision as the filter's runner, on one frame's input that already lies where the
network runs: device buffers bound through IO binding for onnxruntime's GPU providers, host buffers bound the
same way for its CPU provider, a CUDA tensor for the torch backend. No host copies, no colour conversion, no
VapourSynth: the filter's fps over the model alone's is the share of the network's speed that the frame path
keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from kizunasr_vs.core import hardware
from kizunasr_vs.inference.fp16 import convert_float_to_float16
from kizunasr_vs.inference.ort_session import (
    TRT,
    LoadedModel,
    choose_providers,
    cpu_count,
    create_session,
    is_gpu,
    model_info,
    provider_options,
)
from kizunasr_vs.inference.precision import precision_name
from kizunasr_vs.inference.torch_backend import (
    COMPILE_MODE,
    TORCH_COMPILED,
    TORCH_PROVIDERS,
    TorchBackendError,
    prepared_module,
    record_graph,
)


@dataclass(frozen=True)
class ModelAlone:
    """``run()`` runs the network on one frame and returns when it is done; ``precision`` is what it ran in,
    ``what`` says how (for the report)."""

    run: Callable[[], object]
    precision: str
    what: str


def model_alone(loaded: LoadedModel, backend: str, width: int, height: int, precision: str) -> ModelAlone:
    """The network of ``backend`` ("cpu", "cuda", "tensorrt", "torch" or "torch-compile") for ``width`` x
    ``height`` frames, in ``precision`` (the filter runner's: onnxruntime runs an fp32 model in fp16 when it is
    "fp16"; the torch backend has one precision)."""
    if backend in TORCH_PROVIDERS:
        return torch_alone(loaded, width, height, compile_model=backend == TORCH_COMPILED)
    return onnxruntime_alone(loaded, backend, width, height, fp16=precision == "fp16")


def onnxruntime_alone(loaded: LoadedModel, provider: str, width: int, height: int, fp16: bool) -> ModelAlone:
    """One onnxruntime session of the bare model (session options as the filter's), its input and output bound
    once to buffers where the provider runs. ``fp16``: an fp32 model is converted (fp16 in and out; TensorRT:
    its fp16 mode), as the filter converts it."""
    providers = choose_providers(provider)
    info = model_info(loaded)
    proto = loaded.proto
    if fp16 and info.dtype == np.float32 and providers[0] != TRT:
        proto = convert_float_to_float16(proto, keep_io_types=False)
    dtype = np.float16 if proto is not loaded.proto or info.dtype == np.float16 else np.float32
    shape = f"{info.input_name}:1x{info.channels}x{height}x{width}"
    specs = provider_options(providers, loaded.sha256, fp16, trt_profile=(shape, shape, shape) if providers[0] == TRT
                             else None)
    session = create_session(proto.SerializeToString(), loaded.name, specs, cpu_count())
    device = "cuda" if is_gpu(providers) else "cpu"
    frame = np.random.default_rng(0).random((1, info.channels, height, width), dtype=np.float32).astype(dtype)
    binding = session.io_binding()
    binding.bind_ortvalue_input(info.input_name, ort.OrtValue.ortvalue_from_numpy(frame, device, 0))
    binding.bind_output(info.output_name, device, 0)
    session.run_with_iobinding(binding)  # the first run tells the output's shape and type
    first = binding.get_outputs()[0]
    out_type = np.float16 if "float16" in first.data_type() else np.float32
    binding.bind_ortvalue_output(info.output_name,
                                 ort.OrtValue.ortvalue_from_shape_and_type(first.shape(), out_type, device, 0))
    where = "device buffers (IO binding)" if device == "cuda" else "host buffers (IO binding)"
    precision = "fp16" if dtype == np.float16 or (fp16 and providers[0] == TRT) else "fp32"
    return ModelAlone(lambda: session.run_with_iobinding(binding), precision,
                      f"onnxruntime {providers[0]} session on {where}")


def torch_alone(loaded: LoadedModel, width: int, height: int, compile_model: bool, device: int = 0) -> ModelAlone:
    """The torch backend's module (compiled as the filter compiles it with ``compile_model``) on a CUDA tensor in
    its precision, channels_last, replayed as a CUDA graph like the filter's frames; each run waits for the GPU."""
    import torch

    if not hardware.torch_cuda_available():
        raise TorchBackendError("PyTorch sees no CUDA device")
    info = model_info(loaded)
    gpu = torch.device("cuda", device)
    module = prepared_module(loaded.proto, info.channels, height, width, gpu)
    forward = torch.compile(module, mode=COMPILE_MODE, dynamic=False) if compile_model else module
    stream = torch.cuda.Stream(gpu)
    with torch.inference_mode():  # (every tensor the compiled code sees, as in TorchRunner)
        x = torch.rand((1, info.channels, height, width), device=gpu).half()
        x = x.contiguous(memory_format=torch.channels_last)
        graph, y = record_graph(forward, x, stream)

    def run() -> object:
        with torch.cuda.stream(stream):
            graph.replay()
        stream.synchronize()
        return y  # (kept alive with the graph that writes it)

    what = f"torch{' compiled' if compile_model else ''} module on a CUDA tensor (CUDA graph)"
    return ModelAlone(run, precision_name(x.dtype), what)
