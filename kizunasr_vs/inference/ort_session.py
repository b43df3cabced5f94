"""onnxruntime sessions: model loading, provider choice and options, model facts, the session pool.

Provider choice (``"auto"``): TensorRT > CUDA > CPU among what the installed onnxruntime build offers.
TensorRT engines are cached under ``$XDG_CACHE_HOME/kizunasr/trt`` (default ``~/.cache/kizunasr/trt``) in a
folder keyed by ``hardware.identity()`` (the GPU CUDA runs on, its driver, onnxruntime and TensorRT versions),
the model's sha256 and the precision, so a stale engine is never reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnx import TensorProto

from kizunasr_vs.core import hardware
from kizunasr_vs.core.errors import FilterError
from kizunasr_vs.core.paths import trt_cache_root
from kizunasr_vs.core.resources import find_relative, not_found

log = logging.getLogger("kizunasr")

WHO = "onnx"
TRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
_NAMES = {"tensorrt": TRT, "cuda": CUDA, "cpu": CPU}
_GPU_PROVIDERS = (TRT, CUDA)
_DTYPES: dict[int, np.dtype[Any]] = {
    TensorProto.FLOAT: np.dtype(np.float32),
    TensorProto.FLOAT16: np.dtype(np.float16),
}

ProviderSpec = tuple[str, dict[str, str]]


# --- providers ---------------------------------------------------------------------------------

def available_providers() -> list[str]:
    """Execution providers offered by the installed onnxruntime build."""
    return hardware.onnxruntime_providers()


def choose_providers(provider: str) -> list[str]:
    """Providers to use, best first, CPU always last as a fallback.

    ``"auto"`` picks TensorRT > CUDA > CPU; ``"tensorrt"``, ``"cuda"``, ``"cpu"`` ask for one and
    raise ``vs.Error`` if the installed onnxruntime lacks it.
    """
    have = available_providers()
    wanted = provider.lower()
    if wanted == "auto":
        usable = [p for p in _GPU_PROVIDERS if p in have and (p != TRT or hardware.tensorrt_version() is not None)]
        first = usable[0] if usable else CPU
    elif wanted in _NAMES:
        first = _NAMES[wanted]
        if first not in have:
            raise FilterError(
                f"provider {provider!r} ({first}) is not available; this onnxruntime "
                f"({ort.__version__}) offers {', '.join(have)}. For CUDA install onnxruntime-gpu "
                "(pip install onnxruntime-gpu, replacing onnxruntime); for TensorRT also install TensorRT "
                "(pip install tensorrt) and make its libraries loadable"
            )
    else:
        raise FilterError(f"provider must be 'auto', 'tensorrt', 'cuda', 'cpu', 'torch' or 'torch-compile', "
                          f"not {provider!r}")
    order = [first] + ([CUDA] if first == TRT and CUDA in have else []) + ([CPU] if first != CPU else [])
    return order


def is_gpu(providers: Sequence[str]) -> bool:
    """True when the first provider runs on an NVIDIA GPU."""
    return bool(providers) and providers[0] in _GPU_PROVIDERS


def trt_cache_dir(model_sha256: str, fp16: bool, device_id: int = 0) -> Path:
    """The TensorRT engine cache folder for this machine's identity (GPU, driver, versions), model and
    precision."""
    return trt_cache_root() / f"{hardware.identity(device_id).slug}_{model_sha256[:16]}_{'fp16' if fp16 else 'fp32'}"


def _supports_prefer_nhwc() -> bool:
    parts = re.findall(r"\d+", ort.__version__)[:2]
    return tuple(int(p) for p in parts) >= (1, 20)


def provider_options(
    providers: Sequence[str],
    model_sha256: str,
    fp16: bool,
    device_id: int = 0,
    trt_profile: tuple[str, str, str] | None = None,
) -> list[ProviderSpec]:
    """``(name, options)`` per provider. ``trt_profile`` = TensorRT min/opt/max shape strings."""
    specs: list[ProviderSpec] = []
    for name in providers:
        opts: dict[str, str] = {}
        if name == TRT:
            cache = trt_cache_dir(model_sha256, fp16, device_id)
            cache.mkdir(parents=True, exist_ok=True)
            opts = {"device_id": str(device_id), "trt_engine_cache_enable": "True",
                    "trt_engine_cache_path": str(cache), "trt_timing_cache_enable": "True",
                    "trt_timing_cache_path": str(cache), "trt_fp16_enable": str(fp16)}
            if trt_profile is not None:
                keys = ("trt_profile_min_shapes", "trt_profile_opt_shapes", "trt_profile_max_shapes")
                opts.update(zip(keys, trt_profile, strict=True))
        elif name == CUDA:
            opts = {"device_id": str(device_id), "cudnn_conv_algo_search": "EXHAUSTIVE"}
            if fp16 and _supports_prefer_nhwc():
                opts["prefer_nhwc"] = "1"
        specs.append((name, opts))
    return specs


# --- model --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelInfo:
    """What KizunaSR needs to know about a model's input and output."""

    input_name: str
    output_name: str
    channels: int
    dtype: np.dtype[Any]  # float32 or float16
    height: int | None  # fixed input height, None if dynamic
    width: int | None
    batch: int | None  # fixed batch size, None if dynamic

    @property
    def fixed(self) -> tuple[int | None, int | None]:
        return self.height, self.width


@dataclass(frozen=True)
class LoadedModel:
    """A parsed model with its name (for messages) and the sha256 of its bytes."""

    proto: onnx.ModelProto
    name: str
    sha256: str


def load_model(model: str | os.PathLike[str] | bytes) -> LoadedModel:
    """Read and parse a model from a path or bytes; ``vs.Error`` if missing or not ONNX."""
    if isinstance(model, bytes | bytearray):
        data, name = bytes(model), "<model bytes>"
    else:
        if not isinstance(model, str | os.PathLike):
            raise FilterError(f"model must be a registry name, a file name or path, or bytes, not {model!r}")
        searched: list[str] = []
        path = find_relative(model, searched)  # registry names are resolved above this layer (models.api)
        if path is None:
            raise FilterError(f"{not_found('model', model, searched)} (`kizunasr models list` shows the known "
                              "models, `kizunasr models fetch NAME` downloads one)")
        name = str(path)
        data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
        if isinstance(model, str | os.PathLike):
            onnx.external_data_helper.load_external_data_for_model(proto, str(Path(name).parent))
    except (DecodeError, ValueError, OSError, RuntimeError) as e:
        raise FilterError(f"cannot read model {name}: not valid ONNX: {_ort_message(data, e)}") from e
    if not proto.graph.node:
        raise FilterError(f"cannot read model {name}: not valid ONNX: {_ort_message(data, 'no nodes')}")
    return LoadedModel(proto, name, hashlib.sha256(data).hexdigest())


def _ort_message(data: bytes, fallback: object) -> str:
    """onnxruntime's own complaint about ``data`` (``fallback`` if it somehow loads)."""
    try:
        ort.InferenceSession(data, providers=[CPU])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        return str(e)
    return str(fallback)


def _dim(value: onnx.TensorShapeProto.Dimension) -> int | None:
    return value.dim_value if value.HasField("dim_value") and value.dim_value > 0 else None


def model_info(model: LoadedModel) -> ModelInfo:
    """Read input/output names, channels, dtype and fixed sizes; ``vs.Error`` where unusable."""
    graph = model.proto.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [v for v in graph.input if v.name not in initializers]
    if len(inputs) != 1 or not graph.output:
        raise FilterError(f"{model.name}: expected 1 image input, found {len(inputs)} inputs")
    value = inputs[0]
    elem = value.type.tensor_type.elem_type
    if elem not in _DTYPES:
        found = TensorProto.DataType.Name(elem) if elem in TensorProto.DataType.values() else elem
        raise FilterError(f"{model.name}: model input must be float32 or float16, found {found}")
    dims = list(value.type.tensor_type.shape.dim)
    if len(dims) != 4:
        raise FilterError(f"{model.name}: model input must be 4-D [N, C, H, W], found {len(dims)}-D")
    batch, channels, height, width = (_dim(d) for d in dims)
    if channels not in (1, 3):
        raise FilterError(
            f"{model.name}: model input has {channels if channels else 'unknown'} channels; "
            "KizunaSR needs 1 (luma) or 3 (RGB)"
        )
    if batch is not None and batch != 1:
        raise FilterError(f"{model.name}: model has a fixed batch of {batch}; KizunaSR runs batch 1")
    return ModelInfo(value.name, graph.output[0].name, channels, _DTYPES[elem], height, width, batch)


# --- sessions -----------------------------------------------------------------------------------

def cpu_count() -> int:
    """CPU cores this process may run on (what the sessions' threads are divided from)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def create_session(
    model_bytes: bytes, name: str, specs: Sequence[ProviderSpec], threads: int
) -> ort.InferenceSession:
    """Create one session; ``vs.Error`` carrying onnxruntime's message if it fails."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, threads)
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_bytes, options, providers=list(specs))
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        if any("prefer_nhwc" in opts for _, opts in specs):
            retry = [(n, {k: v for k, v in o.items() if k != "prefer_nhwc"}) for n, o in specs]
            return create_session(model_bytes, name, retry, threads)
        raise FilterError(f"onnxruntime cannot load {name}: {e}") from e
    got = session.get_providers()
    if specs and specs[0][0] not in got:
        log.warning("%s: asked for %s but onnxruntime runs %s on %s", WHO, specs[0][0], got[0], name)
    return session


def run_session(
    session: ort.InferenceSession, info: ModelInfo, x: np.ndarray, device_id: int = 0
) -> np.ndarray:
    """Run one ``[1, C, h, w]`` float32 array; returns float32. GPU sessions use IO binding."""
    x = np.ascontiguousarray(x, dtype=info.dtype)
    if session.get_providers()[0] in _GPU_PROVIDERS:
        binding = session.io_binding()
        binding.bind_ortvalue_input(info.input_name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", device_id))
        binding.bind_output(info.output_name, "cuda", device_id)
        session.run_with_iobinding(binding)
        y = binding.copy_outputs_to_cpu()[0]
    else:
        y = session.run([info.output_name], {info.input_name: x})[0]
    return np.asarray(y, dtype=np.float32)


def detect_scale(session: ort.InferenceSession, info: ModelInfo, name: str, shape: tuple[int, int]) -> int:
    """Run a probe of ``shape`` (h, w) and return the integer scale; ``vs.Error`` otherwise."""
    probe = np.full((1, info.channels, *shape), 0.5, dtype=np.float32)
    try:
        out = run_session(session, info, probe)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise FilterError(f"{name}: the model failed on a {shape[1]}x{shape[0]} probe: {e}") from e
    if out.ndim != 4 or out.shape[0] != 1 or out.shape[1] != info.channels:
        raise FilterError(
            f"{name}: expected output [1, {info.channels}, H*s, W*s], found {list(out.shape)}"
        )
    (h, w), (oh, ow) = shape, out.shape[2:]
    if oh % h or ow % w or oh // h != ow // w or oh < h:
        raise FilterError(
            f"{name}: the scale must be one integer >= 1 for both axes; a {w}x{h} input gave {ow}x{oh}"
        )
    return oh // h


class SessionPool:
    """``streams`` sessions lent out through a queue; ``InferenceSession.run`` is thread-safe, and
    one session per concurrent caller keeps GPU streams independent."""

    def __init__(self, sessions: Sequence[ort.InferenceSession]) -> None:
        self._queue: queue.Queue[ort.InferenceSession] = queue.Queue()
        for session in sessions:
            self._queue.put(session)
        self.size = len(sessions)

    @contextmanager
    def borrow(self) -> Iterator[ort.InferenceSession]:
        session = self._queue.get()
        try:
            yield session
        finally:
            self._queue.put(session)
