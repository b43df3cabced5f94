"""fp32 -> fp16 conversion of an ONNX graph, with ``onnx`` alone.

Float32 initializers and Constant tensors become float16, ``Cast(to=FLOAT)`` becomes
``Cast(to=FLOAT16)``, and float32 graph inputs/outputs stay float32 through Cast nodes inserted
at the graph's edges, so callers feed and read float32 as before. Tensors that an operator needs
in float32 (Resize/Upsample ``scales`` and ``roi``, and whatever computes them) are left alone.
``value_info`` is cleared and shape inference is run again.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_MAX = float(np.finfo(np.float16).max)

# (op_type, input index) that must stay float32 whatever the data type.
_FP32_INPUTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}
_SUBGRAPH_OPS = {"If", "Loop", "Scan"}


def _to_fp16(tensor: TensorProto) -> TensorProto:
    array = numpy_helper.to_array(tensor)
    converted = np.clip(array, -FP16_MAX, FP16_MAX).astype(np.float16)
    return numpy_helper.from_array(converted, tensor.name)


def _keep_fp32(graph: onnx.GraphProto) -> set[str]:
    """Names of tensors that must stay float32: inputs of ``_FP32_INPUTS`` and their producers."""
    keep = {
        name for node in graph.node for i, name in enumerate(node.input) if (node.op_type, i) in _FP32_INPUTS
    }
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if node.op_type == "Cast" or not node.output or not all(o in keep for o in node.output):
                continue
            new = {name for name in node.input if name and name not in keep}
            if new:
                keep |= new
                changed = True
    keep.discard("")
    return keep


def _convert_constant(node: onnx.NodeProto) -> None:
    """Turn a Constant node's float32 value (``value``/``value_float(s)``) into float16."""
    for attr in node.attribute:
        if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
            attr.t.CopyFrom(_to_fp16(attr.t))
        elif attr.name in ("value_float", "value_floats"):
            values = [attr.f] if attr.name == "value_float" else list(attr.floats)
            array = np.clip(np.array(values, np.float32), -FP16_MAX, FP16_MAX).astype(np.float16)
            array = array.reshape(()) if attr.name == "value_float" else array
            node.ClearField("attribute")
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(array)))
            return


def _convert_nodes(graph: onnx.GraphProto, keep: set[str]) -> None:
    for node in graph.node:
        if node.op_type in _SUBGRAPH_OPS:
            raise ValueError(f"fp16 conversion does not support control flow ({node.op_type} {node.name!r})")
        if any(o in keep for o in node.output):
            continue
        if node.op_type == "Constant":
            _convert_constant(node)
        elif node.op_type == "ConstantOfShape":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
                    attr.t.CopyFrom(_to_fp16(attr.t))
        elif node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16


def _convert_initializers(graph: onnx.GraphProto, keep: set[str]) -> None:
    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            graph.initializer[i].CopyFrom(_to_fp16(init))


def _rename_input_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _cast_graph_io(graph: onnx.GraphProto) -> None:
    """Keep float32 graph inputs/outputs by casting to/from float16 at the edges."""
    initializer_names = {init.name for init in graph.initializer}
    head: list[onnx.NodeProto] = []
    for value in graph.input:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT or value.name in initializer_names:
            continue
        inner = f"{value.name}__fp16"
        _rename_input_uses(graph, value.name, inner)
        head.append(helper.make_node("Cast", [value.name], [inner], to=TensorProto.FLOAT16,
                                     name=f"{value.name}__cast_in"))
    tail: list[onnx.NodeProto] = []
    for value in graph.output:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        inner = f"{value.name}__fp16"
        for node in graph.node:
            for i, name in enumerate(node.output):
                if name == value.name:
                    node.output[i] = inner
        _rename_input_uses(graph, value.name, inner)
        tail.append(helper.make_node("Cast", [inner], [value.name], to=TensorProto.FLOAT,
                                     name=f"{value.name}__cast_out"))
    nodes = head + list(graph.node) + tail
    graph.ClearField("node")
    graph.node.extend(nodes)


def _retype_graph_io(graph: onnx.GraphProto) -> None:
    """Declare float32 graph inputs and outputs as float16 (the caller feeds and reads fp16)."""
    initializer_names = {init.name for init in graph.initializer}
    for value in [*graph.input, *graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT and value.name not in initializer_names:
            value.type.tensor_type.elem_type = TensorProto.FLOAT16


def convert_float_to_float16(model: onnx.ModelProto, keep_io_types: bool = True) -> onnx.ModelProto:
    """Return an fp16 copy of ``model``; its float32 inputs and outputs stay float32 unless
    ``keep_io_types`` is False (then they become float16 too: half the host <-> device traffic)."""
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    graph = converted.graph
    keep = _keep_fp32(graph)
    _convert_nodes(graph, keep)
    _convert_initializers(graph, keep)
    if keep_io_types:
        _cast_graph_io(graph)
    else:
        _retype_graph_io(graph)
    graph.ClearField("value_info")
    try:
        return onnx.shape_inference.infer_shapes(converted)
    except Exception:  # noqa: BLE001 - inference is an optimisation hint only
        return converted


def is_float16(model: onnx.ModelProto) -> bool:
    """True when the model's first graph input is float16."""
    inputs = [v for v in model.graph.input if v.name not in {i.name for i in model.graph.initializer}]
    return bool(inputs) and inputs[0].type.tensor_type.elem_type == TensorProto.FLOAT16
