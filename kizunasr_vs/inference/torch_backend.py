"""Optional PyTorch backend: an ONNX image model rebuilt as a torch module, run on CUDA in fp16.

Why: on NVIDIA GPUs the compact SR graphs run faster in PyTorch (fp16, channels_last, and more so through
``torch.compile`` with the colour conversions and CUDA graphs) than in onnxruntime's CUDA EP, for some models
by a wide margin (docs/BENCHMARKS.md, "the torch backend", has the figures).
The graph is interpreted node by node from the ONNX file (weights from its initializers); only
the feed-forward ops of compact SR networks are supported, anything else raises ``TorchBackendError``
(``kizunasr_vs.onnx`` turns it into a ``vs.Error`` that suggests backend='cuda'). Graphs that compute
shapes at run time (SPAN pads to a multiple and unshuffles pixels with Shape/Gather/Mod/Reshape) are
first folded for the frame size by onnxruntime's constant folding (``fold_shapes``).

Frames move as fp16 RGB planes or, with a ``YuvLayout``, as the clip's integer YUV planes converted on
the GPU (torch_yuv): each worker ("stream") owns pinned host buffers, a CUDA stream and a CUDA graph of
the frame, so uploads, inference and downloads of several frames overlap.
"""

from __future__ import annotations

import operator
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import numpy_helper

from kizunasr_vs.compiler.graph import text_attr
from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.inference.torch_yuv import YuvConverter, plane_tensor_type
from kizunasr_vs.inference.yuv_io import YuvLayout

if TYPE_CHECKING:
    import vapoursynth as vs

SUPPORTED_OPS = {"Conv", "PRelu", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Add", "Sub", "Mul", "Div", "Clip",
                 "DepthToSpace", "Resize", "Concat", "Identity", "Constant", "Pad", "Reshape", "Transpose", "Slice",
                 "Cast"}
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}


MODEL_PRECISION = "fp16"  # what prepared_module runs the network in (.half())
COMPILE_MODE = "max-autotune-no-cudagraphs"  # torch.compile's mode here: the CUDA graphs are recorded by hand

TORCH, TORCH_COMPILED = "torch", "torch-compile"
TORCH_PROVIDERS = (TORCH, TORCH_COMPILED)  # the provider names that select this backend in kizunasr_vs.onnx
_ARITHMETIC = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": operator.truediv}


class TorchBackendError(KizunaError, RuntimeError):
    """The model or machine cannot use the PyTorch backend (the message says why)."""


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def fold_shapes(model: onnx.ModelProto, channels: int, height: int, width: int) -> onnx.ModelProto:
    """``model`` with its input fixed to 1 x channels x height x width and every shape computation folded
    into constants (onnxruntime's basic graph optimisations). Casts that onnxruntime adds to run fp16
    nodes on the CPU stay in the graph; the torch module runs in one precision and ignores them."""
    import tempfile

    import onnxruntime as ort

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {i.name for i in fixed.graph.initializer}
    source = next(v for v in fixed.graph.input if v.name not in initializers)
    for dim, value in zip(source.type.tensor_type.shape.dim, (1, channels, height, width), strict=True):
        dim.Clear()
        dim.dim_value = value
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = f"{tmp}/folded.onnx"
        try:
            ort.InferenceSession(fixed.SerializeToString(), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise TorchBackendError(f"cannot fold the graph's shape computations for {width}x{height}: {e}") from e
        return onnx.load(f"{tmp}/folded.onnx")


def needs_folding(model: onnx.ModelProto) -> bool:
    """True when the graph computes shapes at run time (Shape nodes)."""
    return any(node.op_type == "Shape" for node in model.graph.node)


def check_supported(model: onnx.ModelProto) -> None:
    """Raise TorchBackendError naming the first node this backend cannot run."""
    for node in model.graph.node:
        if node.op_type not in SUPPORTED_OPS:
            raise TorchBackendError(f"node '{node.name}' (op {node.op_type}) is not supported by the torch backend")
        attrs = _attrs(node)
        if node.op_type == "Resize" and text_attr(attrs, "mode", "nearest") != "nearest":
            raise TorchBackendError(f"node '{node.name}': only nearest Resize is supported")


@dataclass(frozen=True)
class _Step:
    """One node, planned at load time: tensor inputs by name, everything constant resolved to Python values."""

    op: str
    inputs: tuple[str, ...]  # graph tensors or registered buffers
    output: str
    params: dict[str, Any]


def _plan(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> _Step:
    """Resolve a node's constant inputs and attributes (so the forward pass is plain tensor code)."""
    op, attrs = node.op_type, _attrs(node)
    names = list(node.input)
    params: dict[str, Any] = {}
    if op == "Conv":
        if text_attr(attrs, "auto_pad", "NOTSET") != "NOTSET":
            raise TorchBackendError(f"node '{node.name}': Conv auto_pad is not supported")
        params = {"pads": list(attrs.get("pads", [0, 0, 0, 0])), "stride": tuple(attrs.get("strides", [1, 1])),
                  "dilation": tuple(attrs.get("dilations", [1, 1])), "groups": int(attrs.get("group", 1))}
    elif op == "PRelu" and names[1] in consts and consts[names[1]].size > 1:
        consts[names[1]] = consts[names[1]].reshape(1, -1, 1, 1)
    elif op == "LeakyRelu":
        params = {"alpha": float(attrs.get("alpha", 0.01))}
    elif op == "Clip":
        if any(n and n not in consts for n in names[1:]):
            raise TorchBackendError(f"node '{node.name}': Clip bounds must be constants")
        low = consts[names[1]] if len(names) > 1 and names[1] else attrs.get("min")
        high = consts[names[2]] if len(names) > 2 and names[2] else attrs.get("max")
        params = {"min": None if low is None else float(low), "max": None if high is None else float(high)}
        names = names[:1]
    elif op == "DepthToSpace":
        params = {"block": int(attrs["blocksize"]), "mode": text_attr(attrs, "mode", "DCR")}
    elif op == "Resize":
        scales = consts.get(names[2]) if len(names) > 2 and names[2] else None
        if scales is None or scales.size != 4:
            raise TorchBackendError(f"node '{node.name}': only Resize with constant scales is supported")
        params = {"scale": (float(scales[2]), float(scales[3]))}
        names = names[:1]
    elif op == "Concat":
        params = {"axis": int(attrs["axis"])}
    elif op in ("Pad", "Reshape", "Slice"):
        params = _shape_params(node, op, attrs, [consts.get(n) if n else None for n in names[1:]])
        names = names[:1]
    elif op == "Transpose":
        params = {"perm": tuple(int(p) for p in attrs["perm"])}
    return _Step(op, tuple(n for n in names if n), node.output[0], params)


def _shape_params(node: onnx.NodeProto, op: str, attrs: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """Constant pads / target shape / slice bounds of Pad, Reshape and Slice (folded graphs have them)."""
    if values and values[0] is None:
        raise TorchBackendError(f"node '{node.name}': {op} needs constant inputs (fold the shapes first)")
    if op == "Pad":
        pads = [int(p) for p in values[0]]
        rank = len(pads) // 2
        if rank != 4 or any(pads[i] or pads[i + rank] for i in range(2)) or min(pads) < 0:
            raise TorchBackendError(f"node '{node.name}': only non-negative Pad of height and width is supported")
        value = float(values[1]) if len(values) > 1 and values[1] is not None else 0.0
        mode = text_attr(attrs, "mode", "constant")
        if mode not in _PAD_MODES:
            raise TorchBackendError(f"node '{node.name}': Pad mode {mode} is not supported")
        return {"pads": (pads[3], pads[7], pads[2], pads[6]), "mode": _PAD_MODES[mode], "value": value}
    if op == "Reshape":
        return {"shape": tuple(int(d) for d in values[0])}
    starts, ends = [int(v) for v in values[0]], [int(v) for v in values[1]]
    axes = [int(v) for v in values[2]] if len(values) > 2 and values[2] is not None else list(range(len(starts)))
    steps = [int(v) for v in values[3]] if len(values) > 3 and values[3] is not None else [1] * len(starts)
    return {"slices": tuple(zip(axes, starts, ends, steps, strict=True))}


def _execute(step: _Step, xs: list[Any], F: Any, torch: Any) -> Any:  # noqa: N803
    """Run one planned step on tensors ``xs``."""
    op, p = step.op, step.params
    if op == "Conv":
        x, pads = xs[0], p["pads"]
        padding = (pads[0], pads[1])
        if pads[0] != pads[2] or pads[1] != pads[3]:
            x, padding = F.pad(x, (pads[1], pads[3], pads[0], pads[2])), (0, 0)
        return F.conv2d(x, xs[1], xs[2] if len(xs) > 2 else None, stride=p["stride"], padding=padding,
                        dilation=p["dilation"], groups=p["groups"])
    if op == "PRelu":
        return torch.where(xs[0] >= 0, xs[0], xs[0] * xs[1])
    if op == "Relu":
        return F.relu(xs[0])
    if op == "LeakyRelu":
        return F.leaky_relu(xs[0], p["alpha"])
    if op == "Sigmoid":
        return torch.sigmoid(xs[0])
    if op == "Tanh":
        return torch.tanh(xs[0])
    if op in _ARITHMETIC:
        return _ARITHMETIC[op](xs[0], xs[1])
    if op == "Clip":
        return torch.clamp(xs[0], p["min"], p["max"])
    if op == "DepthToSpace":
        return _depth_to_space(xs[0], p["block"], p["mode"], torch)
    if op == "Resize":
        return F.interpolate(xs[0], scale_factor=p["scale"], mode="nearest")
    if op == "Concat":
        return torch.cat(xs, dim=p["axis"])
    if op == "Pad":
        if p["mode"] == "constant":
            return F.pad(xs[0], p["pads"], mode="constant", value=p["value"])
        return F.pad(xs[0], p["pads"], mode=p["mode"])
    if op == "Reshape":
        return xs[0].reshape([xs[0].shape[i] if d == 0 else d for i, d in enumerate(p["shape"])])
    if op == "Transpose":
        return xs[0].permute(*p["perm"])
    if op == "Slice":
        index = [slice(None)] * xs[0].dim()
        for axis, start, end, step in p["slices"]:
            index[axis] = slice(start, min(end, xs[0].shape[axis]) if end >= 0 else end, step)
        return xs[0][tuple(index)]
    return xs[0]  # Identity, and Cast: the module runs in one precision


def build_module(model: onnx.ModelProto) -> Any:
    """A ``torch.nn.Module`` that evaluates ``model``'s graph (one input, one output)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    check_supported(model)
    graph = model.graph
    consts = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])
    input_name = next(v.name for v in graph.input if v.name not in consts)
    output_name = graph.output[0].name
    steps = [_plan(n, consts) for n in graph.node if n.op_type != "Constant"]
    used = sorted({name for step in steps for name in step.inputs if name in consts})

    class OnnxModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.buffer_names = {name: f"c{i}" for i, name in enumerate(used)}
            for name, attr in self.buffer_names.items():
                self.register_buffer(attr, torch.from_numpy(np.asarray(consts[name], dtype=np.float32).copy()))

        def forward(self, x: Any) -> Any:
            env: dict[str, Any] = {input_name: x}
            for name, attr in self.buffer_names.items():
                env[name] = getattr(self, attr)
            for step in steps:
                env[step.output] = _execute(step, [env[n] for n in step.inputs], F, torch)
            return env[output_name]

    return OnnxModule()


def prepared_module(model: onnx.ModelProto, channels: int, height: int, width: int, device: Any) -> Any:
    """The network as this backend runs it on ``device``: shapes folded for ``width`` x ``height`` frames, in
    MODEL_PRECISION (fp16), channels_last, in eval mode; cuDNN picks its algorithms per shape (benchmark)."""
    import torch

    torch.backends.cudnn.benchmark = True
    if needs_folding(model):
        model = fold_shapes(model, channels, height, width)
    module = build_module(model).to(device).half().eval()
    return module.to(memory_format=torch.channels_last)


def record_graph(forward: Any, x: Any, stream: Any) -> tuple[Any, Any]:
    """``forward`` on ``x`` recorded as a CUDA graph on ``stream``, after two warm-up calls there (cuDNN's
    algorithm search and a compile happen outside the graph). Returns the graph and its output tensor, which every
    replay writes again. Call it in inference mode."""
    import torch

    stream.wait_stream(torch.cuda.current_stream(stream.device))
    with torch.cuda.stream(stream):
        for _ in range(2):
            forward(x)
    stream.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
        out = forward(x)
    return graph, out


def _depth_to_space(x: Any, block: int, mode: str, torch: Any) -> Any:
    if mode == "CRD":
        return torch.nn.functional.pixel_shuffle(x, block)
    n, c, h, w = x.shape
    y = x.reshape(n, block, block, c // (block * block), h, w).permute(0, 3, 4, 1, 5, 2)
    return y.reshape(n, c // (block * block), h * block, w * block)


@dataclass
class _Worker:
    """One frame in flight: a CUDA stream, pinned host planes, device planes and (optionally) a CUDA graph
    that runs the whole frame from ``device_in`` to ``device_out``."""

    stream: Any
    host_in: list[Any]
    host_out: list[Any]
    device_in: list[Any]
    device_out: list[Any] = field(default_factory=list)
    graph: Any = None


class TorchRunner:
    """A model on one CUDA device in fp16 (``precision``), with ``streams`` workers that each keep a frame in flight.

    Planes in, planes out: fp16 planes of the model's channels, or with ``layout`` the clip's integer
    Y/U/V planes, converted on the GPU (torch_yuv). With ``graphs`` each worker records its frame's
    kernels once as a CUDA graph and replays it: one
    launch per frame instead of one Python step per node, which several threads would otherwise
    serialise on the GIL.
    """

    def __init__(self, model: onnx.ModelProto, channels: int, height: int, width: int,
                 streams: int = 4, device: int = 0, compile_model: bool = False,
                 layout: YuvLayout | None = None, graphs: bool = True) -> None:
        import torch

        if not torch.cuda.is_available():  # (the runner's own guard: hardware.torch_cuda_available() is the probe)
            raise TorchBackendError("PyTorch sees no CUDA device")
        if layout is not None and channels != 3:
            raise TorchBackendError("YUV planes need an RGB (3-channel) model")
        self.torch = torch
        self.device = torch.device("cuda", device)
        self.module = prepared_module(model, channels, height, width, self.device)
        self.precision = MODEL_PRECISION
        self.convert = YuvConverter(layout) if layout is not None else None
        self.forward = self._eager_forward
        if compile_model:
            # the whole frame, conversions included, so that inductor fuses them into the model's kernels (its
            # kernels are cached where $TORCHINDUCTOR_CACHE_DIR says: the CLI points it into the user cache)
            self.forward = torch.compile(self._eager_forward, mode=COMPILE_MODE, dynamic=False)
        self.channels, self.streams = channels, streams
        in_shapes, in_type = self._plane_shapes(layout, height, width, 1), torch.half
        if layout is not None:
            in_type = plane_tensor_type(layout.bits_in, torch)
        self._workers: queue.Queue[_Worker] = queue.Queue()
        # every tensor the compiled code sees is made under inference_mode (else torch.compile compiles twice)
        with torch.inference_mode():
            probe = self.forward([torch.zeros(s, dtype=in_type, device=self.device) for s in in_shapes])
            self.scale = int(probe[0].shape[2]) // height
            if self.scale * height != probe[0].shape[2] or self.scale * width != probe[0].shape[3]:
                raise TorchBackendError(f"the model gave {tuple(probe[0].shape)} for a {width}x{height} input")
            out_shapes = self._plane_shapes(layout, height, width, self.scale)
            for _ in range(streams):
                worker = _Worker(
                    torch.cuda.Stream(self.device),
                    [torch.empty(s, dtype=in_type).pin_memory() for s in in_shapes],
                    [torch.empty(s, dtype=p.dtype).pin_memory() for s, p in zip(out_shapes, probe[:-1], strict=True)]
                    + [torch.empty(1, dtype=torch.bool).pin_memory()],  # the output is finite
                    [torch.zeros(s, dtype=in_type, device=self.device) for s in in_shapes],
                )
                if graphs:
                    self._record(worker)
                self._workers.put(worker)

    def _plane_shapes(self, layout: YuvLayout | None, height: int, width: int,
                      scale: int) -> list[tuple[int, int, int, int]]:
        h, w = height * scale, width * scale
        if layout is None:
            return [(1, 1, h, w)] * self.channels
        return [(1, 1, h, w)] + [(1, 1, h >> layout.sub_h, w >> layout.sub_w)] * 2

    def _eager_forward(self, planes: list[Any]) -> list[Any]:
        """One frame on the GPU: input planes to output planes (see the class docstring), then a one-element
        bool tensor: every value of the model's output is finite (one reduction on the GPU)."""
        torch = self.torch
        if self.convert is not None:
            rgb = self.convert.to_model(*planes).half().contiguous(memory_format=torch.channels_last)
            y = self.module(rgb)
            out = list(self.convert.from_model(y))
        else:
            y = self.module(torch.cat(planes, dim=1).contiguous(memory_format=torch.channels_last))
            out = [y[:, c:c + 1] for c in range(y.shape[1])]
        return [*out, torch.isfinite(y).all().reshape(1)]

    def _record(self, worker: _Worker) -> None:
        """Warm up on the worker's stream (cuDNN picks its algorithms), then record one frame as a CUDA graph."""
        with self.torch.inference_mode():  # (the caller's, repeated so that this method stands alone)
            worker.graph, worker.device_out = record_graph(self.forward, worker.device_in, worker.stream)

    @contextmanager
    def _worker(self) -> Iterator[_Worker]:
        worker = self._workers.get()
        try:
            yield worker
        finally:
            self._workers.put(worker)

    @property
    def branches(self) -> int:
        """Frames in flight at once: one per worker (``streams``)."""
        return self.streams

    def run_frame(self, src: vs.VideoFrame, out: vs.VideoFrame) -> bool:
        """``run_planes`` on a frame's planes, writing ``out``'s (the FrameRunner protocol of the ONNX filter)."""
        return self.run_planes([np.asarray(src[p]) for p in range(src.format.num_planes)],
                               [np.asarray(out[p]) for p in range(out.format.num_planes)])

    def run_planes(self, planes: list[np.ndarray], outputs: list[np.ndarray]) -> bool:
        """Planes in (fp16, or integer with a layout), planes out (written in place): one frame. False when
        the model's output had NaN or Inf values."""
        torch = self.torch
        with self._worker() as w, torch.inference_mode(), torch.cuda.stream(w.stream):
            try:
                for host, plane in zip(w.host_in, planes, strict=True):
                    np.copyto(_numpy(host)[0, 0], plane)
                for device_plane, host in zip(w.device_in, w.host_in, strict=True):
                    device_plane.copy_(host, non_blocking=True)
                if w.graph is not None:
                    w.graph.replay()
                    results = w.device_out
                else:
                    results = self.forward(w.device_in)
                for host, result in zip(w.host_out, results, strict=True):
                    host.copy_(result, non_blocking=True)
            finally:  # no copy may still use the worker's buffers when the next frame gets them
                w.stream.synchronize()
            for target, host in zip(outputs, w.host_out[:-1], strict=True):
                np.copyto(target, _numpy(host)[0, 0])
            return bool(w.host_out[-1][0])


def _numpy(tensor: Any) -> np.ndarray:
    """A numpy view of a host tensor; int16 tensors hold uint16 samples (see torch_yuv)."""
    array = tensor.numpy()
    return array.view(np.uint16) if array.dtype == np.int16 else array
