"""Read an ONNX model and normalise it into a small dataflow graph the GLSL emitter understands.

The normalised graph (:class:`Graph`) has one image input and one image output, both NCHW with
N = 1, and only these node kinds:

* :class:`Conv`: 1x1 or 3x3, stride 1, "same" padding with zeros, or with the edge pixels repeated (an
  ONNX ``Pad`` in ``edge`` mode in front of it, as PyTorch's ``padding_mode="replicate"`` exports), with bias
  (weights as float64 arrays).
* :class:`Pointwise`: per-channel ``y = f(x)``: relu, prelu, leaky relu, clip, affine (``x*m + a``).
* :class:`Binary`: elementwise add / sub / mul of two tensors (channel broadcast of 1-channel operands).
* :class:`Concat`: along channels.
* :class:`Resize`: nearest-neighbour upscale by an integer factor (``out[y, x] = in[y // f, x // f]``).
* :class:`DepthToSpace`: pixel shuffle, DCR or CRD order.

Normalisation folds constants (initializers, ``Constant`` nodes and any node whose inputs are all
constant, evaluated by ONNX's reference implementation), turns arithmetic with
constants into affine pointwise nodes, folds affine nodes into the convolution before them
(and a pure per-channel scale into the convolution after them), and merges chains of affine
nodes. Anything else raises :class:`CompileError` naming the node and op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import onnx
from onnx import numpy_helper

from kizunasr_vs.compiler.errors import CompileError

PointwiseKind = Literal["relu", "prelu", "leaky", "clip", "affine"]
BinaryKind = Literal["add", "sub", "mul"]


def text_attr(attrs: dict[str, object], name: str, default: str) -> str:
    """A string attribute of an ONNX node (onnx returns them as bytes)."""
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(eq=False)
class Value:
    """A tensor in the graph: ``channels`` planes at ``scale`` times the input size."""

    name: str
    channels: int
    scale: int
    producer: Node | None = None
    consumers: list[Node] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Value({self.name!r}, c={self.channels}, x{self.scale})"


@dataclass(eq=False)
class Node:
    """Base class of normalised nodes; ``name`` and ``onnx_op`` are kept for messages."""

    name: str
    onnx_op: str
    inputs: list[Value]
    output: Value


@dataclass(eq=False)
class Conv(Node):
    """2-D convolution, square odd kernel, stride 1, same padding: zeros, or with ``edge`` the nearest edge
    pixel (ONNX ``Pad`` mode ``edge``)."""

    weight: np.ndarray  # [Co, Ci, k, k] float64
    bias: np.ndarray  # [Co] float64
    edge: bool = False

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])


@dataclass(eq=False)
class Pointwise(Node):
    """Per-channel unary op; ``a`` and ``b`` are per-channel parameter vectors (len = channels).

    relu: max(x, 0); prelu/leaky: x >= 0 ? x : a*x; clip: clamp(x, a, b); affine: x*a + b.
    """

    kind: PointwiseKind
    a: np.ndarray
    b: np.ndarray


@dataclass(eq=False)
class Binary(Node):
    """Elementwise op of two tensors at the same scale (a 1-channel operand broadcasts)."""

    kind: BinaryKind


@dataclass(eq=False)
class Concat(Node):
    """Channel concatenation of same-scale tensors."""


@dataclass(eq=False)
class Resize(Node):
    """Nearest-neighbour integer upscale: ``out[y, x] = in[y // factor, x // factor]``."""

    factor: int


@dataclass(eq=False)
class DepthToSpace(Node):
    """Pixel shuffle: ``out[c, y, x] = in[src_channel(c, y % b, x % b), y // b, x // b]``."""

    block: int
    mode: Literal["DCR", "CRD"]

    def src_channel(self, c: int, dy: int, dx: int) -> int:
        """Input channel feeding output channel ``c`` at sub-pixel (dy, dx)."""
        b = self.block
        c_out = self.output.channels
        if self.mode == "DCR":
            return (dy * b + dx) * c_out + c
        return c * b * b + dy * b + dx


@dataclass
class Graph:
    """The normalised model: nodes in topological order, one input and one output."""

    name: str
    input: Value
    output: Value
    nodes: list[Node]


ModelLike = str | os.PathLike[str] | bytes | onnx.ModelProto

_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}


def load_model(model: ModelLike) -> tuple[onnx.ModelProto, str]:
    """Load a model from a path, serialized bytes or a ModelProto; returns it and a display name."""
    if isinstance(model, onnx.ModelProto):
        return model, model.graph.name or "model"
    if isinstance(model, bytes):
        try:
            proto = onnx.load_model_from_string(model)
        except Exception as e:  # protobuf DecodeError
            raise CompileError(f"cannot parse ONNX model bytes: {e}") from e
        return proto, proto.graph.name or "model"
    path = os.fspath(model)
    try:
        proto = onnx.load(path)
    except OSError as e:
        raise CompileError(f"cannot read ONNX model {path}: {e}") from e
    except Exception as e:  # protobuf DecodeError and friends
        raise CompileError(f"cannot parse ONNX model {path}: {e}") from e
    return proto, os.path.splitext(os.path.basename(path))[0]


class _Builder:
    """Walks the ONNX nodes in order, building :class:`Value`/:class:`Node` objects."""

    def __init__(self, proto: onnx.ModelProto, name: str) -> None:
        self.proto = proto
        self.graph_name = name
        self.consts: dict[str, np.ndarray] = {}
        self.values: dict[str, Value] = {}
        self.nodes: list[Node] = []
        self.edge_padded: dict[str, tuple[Value, int]] = {}  # Pad(edge) output -> (its input, pad width)
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)

    # ----- helpers -------------------------------------------------------------------------
    def err(self, node: onnx.NodeProto, msg: str) -> CompileError:
        return CompileError(f"node {node.name or '<unnamed>'!r} (op {node.op_type}): {msg}")

    def tensor(self, node: onnx.NodeProto, name: str) -> Value:
        if name in self.values:
            return self.values[name]
        if name in self.edge_padded:
            raise self.err(node, f"input {name!r} is an edge Pad's output: such a Pad is supported only as "
                                 "the padding of the 3x3 convolution that reads it")
        if name in self.consts:
            raise self.err(node, f"input {name!r} is a constant where an image tensor is expected")
        raise self.err(node, f"input {name!r} is not produced by any supported node")

    def const(self, node: onnx.NodeProto, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise self.err(node, f"{what} ({name!r}) must be a constant")
        return self.consts[name]

    def add(self, node: Node) -> Value:
        for v in node.inputs:
            v.consumers.append(node)
        node.output.producer = node
        self.nodes.append(node)
        return node.output

    def per_channel(self, node: onnx.NodeProto, arr: np.ndarray, channels: int, what: str) -> np.ndarray:
        """A constant broadcast against NCHW as a (channels,) vector; it must be a scalar or
        shaped (C, 1, 1) / (1, C, 1, 1) (ONNX broadcasting: a 1-D (C,) runs along W, not C)."""
        a = np.asarray(arr, dtype=np.float64)
        if a.size == 1:
            return np.full(channels, float(a.reshape(-1)[0]))
        shape = a.shape
        if (3 <= len(shape) <= 4 and shape[-2:] == (1, 1) and shape[-3] == channels
                and all(d == 1 for d in shape[:-3])):
            return a.reshape(channels).copy()
        raise self.err(node, f"{what} of shape {tuple(shape)} is not a scalar or per-channel "
                             f"(C, 1, 1) constant for {channels} channels")

    # ----- graph walk ----------------------------------------------------------------------
    def build(self) -> Graph:
        g = self.proto.graph
        for init in g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1 or len(g.output) != 1:
            raise CompileError(f"model must have exactly one image input and one output "
                               f"(has {len(inputs)} inputs, {len(g.output)} outputs)")
        inp = inputs[0]
        dims = inp.type.tensor_type.shape.dim
        if len(dims) != 4 or not dims[1].HasField("dim_value"):
            raise CompileError(f"input {inp.name!r} must be NCHW with a fixed channel count")
        if inp.type.tensor_type.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
            raise CompileError(f"input {inp.name!r} must be float32 or float16")
        source = Value(inp.name, int(dims[1].dim_value), 1)
        self.values[inp.name] = source
        for node in g.node:
            self.visit(node)
        out_name = g.output[0].name
        if out_name not in self.values:
            raise CompileError(f"output {out_name!r} is not an image tensor computed from the input")
        return Graph(self.graph_name, source, self.values[out_name], self.nodes)

    def visit(self, node: onnx.NodeProto) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise self.err(node, f"unsupported op (domain {node.domain!r})")
        if op != "Constant" and node.input and all(i in self.consts or i == "" for i in node.input):
            self.fold_constant(node)
            return
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise self.err(node, "unsupported op")
        handler(node)

    def fold_constant(self, node: onnx.NodeProto) -> None:
        """Evaluate a node whose inputs are all constants with ONNX's reference implementation (exporters
        compute shapes and pad widths with small constant subgraphs)."""
        from onnx.reference import ReferenceEvaluator

        names = [i for i in node.input if i]
        inputs = [onnx.helper.make_tensor_value_info(i, onnx.TensorProto.UNDEFINED, None) for i in names]
        outputs = [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output]
        model = onnx.helper.make_model(
            onnx.helper.make_graph([node], "fold", inputs, outputs),
            opset_imports=[onnx.helper.make_opsetid("", self.opset)])
        try:
            results = ReferenceEvaluator(model).run(None, {i: self.consts[i] for i in names})
        except Exception as e:  # noqa: BLE001 - the reference evaluator raises many kinds
            raise self.err(node, f"cannot fold this constant computation ({e})") from e
        for name, value in zip(node.output, results, strict=True):
            self.consts[name] = np.asarray(value)

    def attrs(self, node: onnx.NodeProto) -> dict[str, object]:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    # ----- ops -----------------------------------------------------------------------------
    def op_Constant(self, node: onnx.NodeProto) -> None:
        a = self.attrs(node)
        if "value" in a:
            self.consts[node.output[0]] = numpy_helper.to_array(a["value"])  # type: ignore[arg-type]
        elif "value_float" in a:
            self.consts[node.output[0]] = np.array(a["value_float"], dtype=np.float32)
        elif "value_floats" in a:
            self.consts[node.output[0]] = np.array(a["value_floats"], dtype=np.float32)
        elif "value_int" in a:
            self.consts[node.output[0]] = np.array(a["value_int"], dtype=np.int64)
        elif "value_ints" in a:
            self.consts[node.output[0]] = np.array(a["value_ints"], dtype=np.int64)
        else:
            raise self.err(node, f"unsupported Constant attributes {sorted(a)}")

    def op_Identity(self, node: onnx.NodeProto) -> None:
        self.values[node.output[0]] = self.tensor(node, node.input[0])

    op_Dropout = op_Identity

    def op_Cast(self, node: onnx.NodeProto) -> None:
        """Casts between float types pass through (the shader computes in float anyway)."""
        to = self.attrs(node).get("to")
        if to not in _FLOAT_TYPES:
            raise self.err(node, f"unsupported cast to {onnx.TensorProto.DataType.Name(int(to))}")  # type: ignore[call-overload]
        self.op_Identity(node)

    def op_Conv(self, node: onnx.NodeProto) -> None:
        padded = self.edge_padded.get(node.input[0])
        x = padded[0] if padded else self.tensor(node, node.input[0])
        w = np.asarray(self.const(node, node.input[1], "weight"), dtype=np.float64)
        a = self.attrs(node)
        if w.ndim != 4:
            raise self.err(node, f"only 2-D convolutions are supported (weight shape {w.shape})")
        co, ci, kh, kw = w.shape
        if kh != kw or kh not in (1, 3):
            raise self.err(node, f"unsupported kernel {kh}x{kw} (only 1x1 and 3x3)")
        if int(a.get("group", 1)) != 1:  # type: ignore[call-overload]
            raise self.err(node, f"unsupported group={a['group']} (only group=1)")
        if any(int(s) != 1 for s in a.get("strides", [1, 1])):  # type: ignore[attr-defined]
            raise self.err(node, f"unsupported strides={a['strides']} (only stride 1)")
        if any(int(d) != 1 for d in a.get("dilations", [1, 1])):  # type: ignore[attr-defined]
            raise self.err(node, f"unsupported dilations={a['dilations']} (only dilation 1)")
        k = kh // 2
        auto_pad = text_attr(a, "auto_pad", "NOTSET")
        edge = padded is not None
        if padded:
            width = padded[1]
            pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]  # type: ignore[attr-defined]
            if k != 1 or width != 1 or auto_pad not in ("NOTSET", "", "VALID") or any(pads):
                raise self.err(node, f"an edge Pad is supported only as 1 pixel in front of a 3x3 convolution "
                                     f"without pads of its own (here: Pad {width}, a {kh}x{kw} convolution, "
                                     f"pads={pads}, auto_pad={auto_pad})")
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER") or auto_pad == "VALID" and k == 0:
            pass
        elif auto_pad in ("NOTSET", ""):
            pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]  # type: ignore[attr-defined]
            if pads != [k] * 4:
                raise self.err(node, f"unsupported pads={pads} (only 'same' padding {[k] * 4})")
        else:
            raise self.err(node, f"unsupported auto_pad={auto_pad}")
        if ci != x.channels:
            raise self.err(node, f"weight expects {ci} input channels, input has {x.channels}")
        if len(node.input) > 2 and node.input[2]:
            b = np.asarray(self.const(node, node.input[2], "bias"), dtype=np.float64).reshape(-1)
        else:
            b = np.zeros(co)
        out = Value(node.output[0], co, x.scale)
        self.values[out.name] = self.add(Conv(node.name, "Conv", [x], out, w.copy(), b.copy(), edge))

    def op_Pad(self, node: onnx.NodeProto) -> None:
        """``edge`` mode, the same width on the four sides of H and W: kept for the convolution reading it."""
        x = self.tensor(node, node.input[0])
        a = self.attrs(node)
        mode = text_attr(a, "mode", "constant")
        if mode != "edge":
            raise self.err(node, f"unsupported mode {mode!r} (only 'edge', in front of a convolution; "
                                 "zero padding belongs in the Conv's pads)")
        if self.opset < 11:  # an attribute: "paddings" in opset 1, "pads" from opset 2
            pads = [int(p) for p in a.get("pads", a.get("paddings", []))]  # type: ignore[attr-defined]
        elif len(node.input) < 2 or not node.input[1]:
            raise self.err(node, "Pad without its pads input")
        else:
            pads = [int(p) for p in np.asarray(self.const(node, node.input[1], "pads")).reshape(-1)]
        if len(node.input) > 3 and node.input[3]:
            raise self.err(node, "Pad with axes is not supported")
        width = pads[2] if len(pads) == 8 else -1
        if pads != [0, 0, width, width, 0, 0, width, width] or width < 1:
            raise self.err(node, f"unsupported pads={pads} (only the same width on all sides of H and W)")
        self.edge_padded[node.output[0]] = (x, width)

    def _pointwise(self, node: onnx.NodeProto, kind: PointwiseKind, a: np.ndarray, b: np.ndarray,
                   x: Value | None = None) -> None:
        x = x or self.tensor(node, node.input[0])
        out = Value(node.output[0], x.channels, x.scale)
        self.values[out.name] = self.add(Pointwise(node.name, node.op_type, [x], out, kind, a, b))

    def op_Relu(self, node: onnx.NodeProto) -> None:
        c = self.tensor(node, node.input[0]).channels
        self._pointwise(node, "relu", np.zeros(c), np.zeros(c))

    def op_Neg(self, node: onnx.NodeProto) -> None:
        c = self.tensor(node, node.input[0]).channels
        self._pointwise(node, "affine", np.full(c, -1.0), np.zeros(c))

    def op_PRelu(self, node: onnx.NodeProto) -> None:
        c = self.tensor(node, node.input[0]).channels
        slope = self.per_channel(node, self.const(node, node.input[1], "slope"), c, "slope")
        self._pointwise(node, "prelu", slope, np.zeros(c))

    def op_LeakyRelu(self, node: onnx.NodeProto) -> None:
        c = self.tensor(node, node.input[0]).channels
        alpha = float(self.attrs(node).get("alpha", 0.01))  # type: ignore[arg-type]
        self._pointwise(node, "leaky", np.full(c, alpha), np.zeros(c))

    def op_Clip(self, node: onnx.NodeProto) -> None:
        c = self.tensor(node, node.input[0]).channels
        a = self.attrs(node)
        lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))  # type: ignore[arg-type]
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.const(node, node.input[1], "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.const(node, node.input[2], "max"))
        self._pointwise(node, "clip", np.full(c, lo), np.full(c, hi))

    def _arith(self, node: onnx.NodeProto) -> None:
        op = node.op_type
        a_name, b_name = node.input[0], node.input[1]
        a_const, b_const = a_name in self.consts, b_name in self.consts
        if not a_const and not b_const:
            if op == "Div":
                raise self.err(node, "division of two tensors is not supported")
            self._binary(node, self.tensor(node, a_name), self.tensor(node, b_name))
            return
        x = self.tensor(node, b_name if a_const else a_name)
        k = self.per_channel(node, self.consts[a_name if a_const else b_name], x.channels, "constant")
        one, zero = np.ones(x.channels), np.zeros(x.channels)
        if op == "Add":
            mul, add = one, k
        elif op == "Mul":
            mul, add = k, zero
        elif op == "Sub":
            mul, add = (-one, k) if a_const else (one, -k)
        elif a_const:  # Div: constant / tensor
            raise self.err(node, "division of a constant by a tensor is not supported")
        else:
            if np.any(k == 0):
                raise self.err(node, "division by zero")
            mul, add = 1.0 / k, zero
        self._pointwise(node, "affine", mul, add, x)

    op_Add = op_Sub = op_Mul = op_Div = _arith

    def _binary(self, node: onnx.NodeProto, a: Value, b: Value) -> None:
        if a.scale != b.scale:
            raise self.err(node, f"operands have different sizes (x{a.scale} and x{b.scale})")
        if a.channels != b.channels and 1 not in (a.channels, b.channels):
            raise self.err(node, f"cannot broadcast {a.channels} and {b.channels} channels")
        kind: BinaryKind = {"Add": "add", "Sub": "sub", "Mul": "mul"}[node.op_type]  # type: ignore[assignment]
        out = Value(node.output[0], max(a.channels, b.channels), a.scale)
        self.values[out.name] = self.add(Binary(node.name, node.op_type, [a, b], out, kind))

    def op_Concat(self, node: onnx.NodeProto) -> None:
        axis = int(self.attrs(node).get("axis", 1))  # type: ignore[call-overload]
        if axis not in (1, -3):
            raise self.err(node, f"unsupported axis={axis} (only channel axis 1)")
        xs = [self.tensor(node, n) for n in node.input]
        if len({x.scale for x in xs}) != 1:
            raise self.err(node, "inputs have different sizes")
        out = Value(node.output[0], sum(x.channels for x in xs), xs[0].scale)
        self.values[out.name] = self.add(Concat(node.name, "Concat", xs, out))

    def op_DepthToSpace(self, node: onnx.NodeProto) -> None:
        x = self.tensor(node, node.input[0])
        a = self.attrs(node)
        block = int(a["blocksize"])  # type: ignore[call-overload]
        mode = text_attr(a, "mode", "DCR")
        if mode not in ("DCR", "CRD"):
            raise self.err(node, f"unsupported mode={mode}")
        if block < 1 or x.channels % (block * block):
            raise self.err(node, f"{x.channels} channels are not divisible by blocksize^2={block * block}")
        out = Value(node.output[0], x.channels // (block * block), x.scale * block)
        self.values[out.name] = self.add(DepthToSpace(node.name, "DepthToSpace", [x], out, block, mode))  # type: ignore[arg-type]

    def op_Resize(self, node: onnx.NodeProto) -> None:
        x = self.tensor(node, node.input[0])
        a = self.attrs(node)
        mode = text_attr(a, "mode", "nearest")
        if mode != "nearest":
            raise self.err(node, f"unsupported mode={mode} (only nearest)")
        scales_name = node.input[2] if len(node.input) > 2 else ""
        if self.opset < 11:
            scales_name = node.input[1] if len(node.input) > 1 else ""
        if not scales_name:
            raise self.err(node, "only constant 'scales' are supported (not 'sizes')")
        scales = np.asarray(self.const(node, scales_name, "scales"), dtype=np.float64).reshape(-1)
        ctm = text_attr(a, "coordinate_transformation_mode", "half_pixel" if self.opset >= 11 else "asymmetric")
        nearest = text_attr(a, "nearest_mode", "round_prefer_floor")
        self._upscale(node, x, scales, ctm, nearest)

    def op_Upsample(self, node: onnx.NodeProto) -> None:
        x = self.tensor(node, node.input[0])
        a = self.attrs(node)
        mode = text_attr(a, "mode", "nearest")
        if mode != "nearest":
            raise self.err(node, f"unsupported mode={mode} (only nearest)")
        if len(node.input) > 1:
            scales = np.asarray(self.const(node, node.input[1], "scales"), dtype=np.float64).reshape(-1)
        else:
            scales = np.asarray(a.get("scales", []), dtype=np.float64)
        self._upscale(node, x, scales, "asymmetric", "floor")

    def _upscale(self, node: onnx.NodeProto, x: Value, scales: np.ndarray, ctm: str, nearest: str) -> None:
        if scales.shape != (4,) or scales[0] != 1 or scales[1] != 1 or scales[2] != scales[3]:
            raise self.err(node, f"unsupported scales={scales.tolist()} (need [1, 1, s, s])")
        s = float(scales[2])
        if s < 1 or s != int(s):
            raise self.err(node, f"unsupported scale {s} (only integer upscales)")
        f = int(s)
        if not _nearest_is_floor(f, ctm, nearest):
            raise self.err(node, f"coordinate_transformation_mode={ctm}, nearest_mode={nearest} is not "
                                 f"plain pixel replication for scale {f}")
        if f == 1:
            self.values[node.output[0]] = x
            return
        out = Value(node.output[0], x.channels, x.scale * f)
        self.values[out.name] = self.add(Resize(node.name, node.op_type, [x], out, f))


def _nearest_is_floor(f: int, ctm: str, nearest: str) -> bool:
    """True when ONNX nearest resize with these modes maps output x to input ``x // f``."""
    n_in = 7
    for x_out in range(n_in * f):
        if ctm == "asymmetric":
            x = x_out / f
        elif ctm in ("half_pixel", "pytorch_half_pixel"):
            x = (x_out + 0.5) / f - 0.5
        elif ctm == "tf_half_pixel_for_nn":
            x = (x_out + 0.5) / f
        elif ctm == "align_corners":
            x = x_out * (n_in - 1) / (n_in * f - 1)
        else:
            return False
        frac = x - np.floor(x)
        if nearest == "floor":
            xi = np.floor(x)
        elif nearest == "ceil":
            xi = np.ceil(x)
        elif nearest == "round_prefer_ceil":
            xi = np.floor(x) + (1 if frac >= 0.5 else 0)
        elif nearest == "round_prefer_floor":
            xi = np.floor(x) + (1 if frac > 0.5 else 0)
        else:
            return False
        if int(min(max(xi, 0), n_in - 1)) != x_out // f:
            return False
    return True


# ----- optimisation --------------------------------------------------------------------------


def _relink(nodes: list[Node], output: Value) -> list[Node]:
    """Drop nodes that do not reach ``output`` and recompute every value's consumer list."""
    live: set[int] = set()
    stack = [output]
    while stack:
        v = stack.pop()
        if v.producer is not None and id(v.producer) not in live:
            live.add(id(v.producer))
            stack.extend(v.producer.inputs)
    kept = [n for n in nodes if id(n) in live]
    for n in kept:
        n.output.consumers = []
        for v in n.inputs:
            v.consumers = []
    for n in kept:
        for v in n.inputs:
            if n not in v.consumers:
                v.consumers.append(n)
    return kept


def _bypass(nodes: list[Node], node: Node, replacement: Value) -> None:
    """Make every user of ``node``'s output read ``replacement`` instead."""
    for n in nodes:
        n.inputs = [replacement if v is node.output else v for v in n.inputs]


def _fold_affine_backwards(nodes: list[Node], output: Value) -> tuple[list[Node], Value]:
    """Fold ``conv -> affine`` into the conv and ``affine -> affine`` into one affine node.

    Only when the producer's output has no other user (and is not the graph output).
    """
    changed = True
    while changed:
        changed = False
        for n in nodes:
            if not (isinstance(n, Pointwise) and n.kind == "affine"):
                continue
            src = n.inputs[0].producer
            if src is None or len(src.output.consumers) != 1 or src.output is output:
                continue
            if isinstance(src, Conv):
                src.weight = src.weight * n.a[:, None, None, None]
                src.bias = src.bias * n.a + n.b
            elif isinstance(src, Pointwise) and src.kind == "affine":
                src.a, src.b = src.a * n.a, src.b * n.a + n.b
            else:
                continue
            src.output.name = n.output.name
            _bypass(nodes, n, src.output)
            if output is n.output:
                output = src.output
            nodes = _relink([m for m in nodes if m is not n], output)
            changed = True
            break
    return nodes, output


def _fold_scale_forwards(nodes: list[Node], output: Value) -> list[Node]:
    """Fold ``affine (no offset) -> conv`` into the convs' input weights.

    Only a pure scale can move: a zero-padded conv's padding must stay zero (an edge-padded conv would also
    take an offset, which is not folded).
    """
    for n in list(nodes):
        if not (isinstance(n, Pointwise) and n.kind == "affine" and np.all(n.b == 0)):
            continue
        users = n.output.consumers
        if n.output is output or not users or not all(isinstance(c, Conv) for c in users):
            continue
        for conv in users:
            assert isinstance(conv, Conv)
            conv.weight = conv.weight * n.a[None, :, None, None]
        _bypass(nodes, n, n.inputs[0])
        nodes = _relink([m for m in nodes if m is not n], output)
    return nodes


def normalise(model: ModelLike) -> Graph:
    """Load ``model`` and return its normalised, optimised :class:`Graph`."""
    proto, name = load_model(model)
    graph = _Builder(proto, name).build()
    if graph.output is graph.input:
        raise CompileError("the model output is its input unchanged; nothing to compile")
    nodes = _relink(graph.nodes, graph.output)
    nodes, output = _fold_affine_backwards(nodes, graph.output)
    nodes = _fold_scale_forwards(nodes, output)
    return Graph(graph.name, graph.input, output, nodes)
