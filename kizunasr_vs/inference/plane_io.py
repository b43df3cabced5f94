"""Zero-copy model I/O: one graph input and output per colour plane, bound to VapourSynth frame memory.

VapourSynth keeps each plane of a frame in its own buffer, while image models take one
``[1, C, H, W]`` tensor. Stacking planes into a tensor and splitting the result back costs
three full-frame host copies and fresh allocations per frame. Instead the graph is rewritten at
load time: ``Concat`` joins per-plane inputs ``<in>__p<c>`` and ``Gather`` splits the output into
``<out>__p<c>``. IO binding then points onnxruntime straight at the source frame's planes and at
the output frame's planes; with a GPU provider onnxruntime copies host <-> device itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import onnx
import onnxruntime as ort
import vapoursynth as vs
from onnx import helper, numpy_helper


def plane_name(tensor: str, plane: int) -> str:
    return f"{tensor}__p{plane}"


def _real_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    initializers = {i.name for i in graph.initializer}
    return [v for v in graph.input if v.name not in initializers]


def split_plane_io(model: onnx.ModelProto, channels: int) -> onnx.ModelProto:
    """A copy of ``model`` with per-plane ``[1, 1, H, W]`` inputs and outputs of the model's I/O type."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    source, result = _real_inputs(graph)[0], graph.output[0]
    elem = source.type.tensor_type.elem_type
    plane_inputs = [helper.make_tensor_value_info(plane_name(source.name, c), elem, [1, 1, "height", "width"])
                    for c in range(channels)]
    join = helper.make_node("Concat", [v.name for v in plane_inputs], [source.name], axis=1,
                            name=f"{source.name}__join")
    splits = []
    plane_outputs = []
    for c in range(channels):
        index = f"{result.name}__index{c}"
        graph.initializer.append(numpy_helper.from_array(np.array([c], dtype=np.int64), index))
        splits.append(helper.make_node("Gather", [result.name, index], [plane_name(result.name, c)], axis=1,
                                       name=f"{result.name}__split{c}"))
        plane_outputs.append(helper.make_tensor_value_info(plane_name(result.name, c), elem, None))
    nodes = [join, *graph.node, *splits]
    graph.ClearField("node")
    graph.node.extend(nodes)
    kept_inputs = [v for v in graph.input if v.name != source.name]
    graph.ClearField("input")
    graph.input.extend(plane_inputs + kept_inputs)
    graph.ClearField("output")
    graph.output.extend(plane_outputs)
    graph.ClearField("value_info")
    return out


FINITE_PROBE = "kz_finite_probe"


def add_finite_probe(model: onnx.ModelProto, tensor: str) -> onnx.ModelProto:
    """``model`` with one more output, FINITE_PROBE: the float32 sum of ``tensor`` times 0, a scalar that is 0
    when every value of ``tensor`` is finite and NaN otherwise (Inf * 0 is NaN). One reduction where the model
    runs (on the GPU with a GPU provider): four bytes reach the host, not the whole tensor."""
    graph = model.graph
    zero = f"{FINITE_PROBE}__zero"
    graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), zero))
    as_float, zeroed = f"{FINITE_PROBE}__float", f"{FINITE_PROBE}__zeroed"
    graph.node.extend([
        helper.make_node("Cast", [tensor], [as_float], to=onnx.TensorProto.FLOAT, name=as_float),
        helper.make_node("Mul", [as_float, zero], [zeroed], name=zeroed),
        helper.make_node("ReduceSum", [zeroed], [FINITE_PROBE], keepdims=0, name=FINITE_PROBE),
    ])
    graph.output.append(helper.make_tensor_value_info(FINITE_PROBE, onnx.TensorProto.FLOAT, []))
    return model


def _contiguous(array: np.ndarray) -> bool:
    return bool(array.flags.c_contiguous)


@contextmanager
def bound_planes(session: ort.InferenceSession, inputs: list[str], outputs: list[str], src: vs.VideoFrame,
                 dst: vs.VideoFrame, probe: np.ndarray | None = None) -> Iterator[ort.IOBinding]:
    """An IO binding from ``src``'s planes to the graph's ``inputs`` and from ``outputs`` to ``dst``'s planes,
    each in the plane's own sample type; copies only where a plane has padded rows. ``probe`` (a float32
    scalar array) receives the graph's FINITE_PROBE output (see ``add_finite_probe``)."""
    binding = session.io_binding()
    keep: list[np.ndarray] = []
    for name, c in zip(inputs, range(src.format.num_planes), strict=True):
        plane = np.asarray(src[c])
        if not _contiguous(plane):
            plane = np.ascontiguousarray(plane)
        keep.append(plane)
        binding.bind_input(name, "cpu", 0, plane.dtype, [1, 1, *plane.shape], plane.ctypes.data)
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    for name, c in zip(outputs, range(dst.format.num_planes), strict=True):
        target = np.asarray(dst[c])
        buffer = target if _contiguous(target) else np.empty(target.shape, target.dtype)
        if buffer is not target:
            pending.append((buffer, target))
        binding.bind_output(name, "cpu", 0, buffer.dtype, [1, 1, *buffer.shape], buffer.ctypes.data)
    if probe is not None:
        binding.bind_output(FINITE_PROBE, "cpu", 0, probe.dtype, [], probe.ctypes.data)
    yield binding
    for buffer, target in pending:
        np.copyto(target, buffer)
