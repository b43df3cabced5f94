"""YUV in, YUV out: the colour conversion of an RGB model moved into its graph, to run on the GPU.

An RGB model normally gets float RGB frames converted by zimg on the CPU: at 1080p -> 2160p that is
24 MB in and 100 MB out per frame through host memory, more than a fast model needs to compute
the frame. Wrapped by ``wrap_yuv_io``, the model takes the clip's integer Y, U and V planes as
they are (3 MB in for 8-bit 4:2:0) and returns integer planes of the output format (25 MB for
10-bit 4:2:0 at 2160p); the conversion runs inside the session, on the GPU with a GPU provider.

Conversion (all in fp32; the model keeps its own precision):
* range: limited (Y 16..235, C 16..240, scaled by 2^(bits-8)) or full (0..2^bits-1, C centred on
  2^(bits-1));
* matrix: BT.709, BT.601 (470BG / 170M) or BT.2020 non-constant luminance;
* chroma: 4:4:4, 4:2:2 or 4:2:0 with chroma location left (MPEG-2, the default) or center;
  upsampled bilinearly for the model, downsampled afterwards with the matching filter (a 2-tap
  box on centred axes, [1/4, 1/2, 1/4] on co-sited ones); edges repeat the border sample;
* the result is rounded and clipped to the output's code range.
zimg (the CPU path) upsamples chroma with Bicubic instead, so the two paths differ slightly in
chroma; luma agrees up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import vapoursynth as vs
from onnx import TensorProto, helper, numpy_helper

from kizunasr_vs.core.formats import RANGE_FULL, ColorInfo

CHROMA_LEFT, CHROMA_CENTER = 0, 1
KR_KB = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593)}
PLANES_IN = ("kz_y", "kz_u", "kz_v")
PLANES_OUT = ("kz_y_out", "kz_u_out", "kz_v_out")
MIN_OPSET = 11  # Resize, Pad and Clip with tensor inputs


@dataclass(frozen=True)
class YuvLayout:
    """What the wrapped graph reads and writes: colour description, subsampling (log2), bit depths."""

    matrix: int
    range: int
    chroma_location: int
    sub_w: int
    sub_h: int
    bits_in: int
    bits_out: int


def yuv_layout(fmt: vs.VideoFormat, color: ColorInfo, output: vs.VideoFormat) -> YuvLayout | None:
    """The layout for converting ``fmt`` in the graph, or None where it cannot (the zimg path is used)."""
    supported_sub = {0, 1}
    if fmt.color_family != vs.YUV or fmt.sample_type != vs.INTEGER or fmt.bits_per_sample > 16:
        return None
    if output.color_family != vs.YUV or output.sample_type != vs.INTEGER or output.bits_per_sample > 16:
        return None
    if (output.subsampling_w, output.subsampling_h) != (fmt.subsampling_w, fmt.subsampling_h):
        return None
    if fmt.subsampling_w not in supported_sub or fmt.subsampling_h not in supported_sub:
        return None
    if color.matrix not in KR_KB or color.chroma_location not in (CHROMA_LEFT, CHROMA_CENTER):
        return None
    return YuvLayout(color.matrix, color.range, color.chroma_location, fmt.subsampling_w, fmt.subsampling_h,
                     fmt.bits_per_sample, output.bits_per_sample)


def rgb_to_ycbcr_matrix(matrix: int) -> np.ndarray:
    """3x3: R'G'B' (0..1) to Y' (0..1), Cb, Cr (-0.5..0.5)."""
    kr, kb = KR_KB[matrix]
    kg = 1.0 - kr - kb
    return np.array([[kr, kg, kb],
                     [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
                     [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))]], dtype=np.float64)


def code_scale(bits: int, full_range: bool) -> tuple[float, float, float, float]:
    """(luma offset, luma span, chroma offset, chroma span) in code values: value = offset + span * x."""
    if full_range:
        top = float((1 << bits) - 1)
        return 0.0, top, float(1 << (bits - 1)), top
    k = float(1 << (bits - 8))
    return 16 * k, 219 * k, 128 * k, 224 * k


class _Builder:
    """Collects the nodes and initializers added around the model (names prefixed ``kz_``)."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.count = 0

    def const(self, value: np.ndarray | float, dtype: type = np.float32) -> str:
        self.count += 1
        name = f"kz_c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self.count += 1
        out = f"kz_t{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"kz_n{self.count}", **attrs))
        return out

    def channels(self, x: str, start: int, end: int) -> str:
        """Channels ``start`` to ``end - 1`` of ``x`` (a Slice on axis 1)."""
        bounds = [self.const(np.array([v]), np.int64) for v in (start, end, 1)]
        return self.op("Slice", [x, *bounds])

    def affine(self, x: str, scale: float, offset: float) -> str:
        return self.op("Add", [self.op("Mul", [x, self.const(scale)]), self.const(offset)])

    def upsample(self, x: str, axis: int, cosited: bool) -> str:
        """2x linear along ``axis`` (2: height, 3: width); co-sited samples land on even output pixels."""
        scales = [1.0, 1.0, 1.0, 1.0]
        scales[axis] = 2.0
        mode = "asymmetric" if cosited else "half_pixel"
        return self.op("Resize", [x, self.const(np.zeros(0)), self.const(np.array(scales))],
                       mode="linear", coordinate_transformation_mode=mode)

    def downsample(self, x: str, axis: int, cosited: bool, channels: int) -> str:
        """2x down along ``axis``: a box of two on centred axes, [1/4, 1/2, 1/4] around co-sited samples."""
        kernel = [1, 1]
        if not cosited:
            kernel[axis - 2] = 2
            return self.op("AveragePool", [x], kernel_shape=kernel, strides=kernel)
        pads = [0] * 8
        pads[axis] = 1  # one repeated sample before the first: the filter of sample 0 sees it
        padded = self.op("Pad", [x, self.const(np.array(pads), np.int64)], mode="edge")
        kernel[axis - 2] = 3
        weights = np.array([0.25, 0.5, 0.25], dtype=np.float32).reshape([1, 1, *kernel])
        strides = [1, 1]
        strides[axis - 2] = 2
        return self.op("Conv", [padded, self.const(np.repeat(weights, channels, axis=0))],
                       kernel_shape=kernel, strides=strides, group=channels)


def _io_type(bits: int) -> int:
    return TensorProto.UINT8 if bits <= 8 else TensorProto.UINT16


def plane_dtype(bits: int) -> np.dtype:
    return np.dtype(np.uint8 if bits <= 8 else np.uint16)


def _opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def wrap_yuv_io(model: onnx.ModelProto, layout: YuvLayout) -> onnx.ModelProto:
    """A copy of the 3-channel RGB ``model`` taking planes ``kz_y/u/v`` and returning ``kz_y/u/v_out``."""
    if _opset(model) < MIN_OPSET:
        raise ValueError(f"the model's opset {_opset(model)} is older than {MIN_OPSET}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    initializers = {i.name for i in graph.initializer}
    source = [v for v in graph.input if v.name not in initializers][0]
    result = graph.output[0]
    model_type = source.type.tensor_type.elem_type
    b = _Builder()
    cosited_w = layout.chroma_location == CHROMA_LEFT
    full = layout.range == RANGE_FULL

    # integer planes -> normalised Y (0..1) and chroma (-0.5..0.5) at luma size -> RGB in the model's type
    y_off, y_span, c_off, c_span = code_scale(layout.bits_in, full)
    y = b.affine(b.op("Cast", [PLANES_IN[0]], to=TensorProto.FLOAT), 1 / y_span, -y_off / y_span)
    uv = b.op("Concat", [b.op("Cast", [name], to=TensorProto.FLOAT) for name in PLANES_IN[1:]], axis=1)
    uv = b.affine(uv, 1 / c_span, -c_off / c_span)
    if layout.sub_h:
        uv = b.upsample(uv, 2, cosited=False)
    if layout.sub_w:
        uv = b.upsample(uv, 3, cosited=cosited_w)
    forward = rgb_to_ycbcr_matrix(layout.matrix)
    to_rgb = np.linalg.inv(forward).astype(np.float32).reshape(3, 3, 1, 1)
    rgb = b.op("Conv", [b.op("Concat", [y, uv], axis=1), b.const(to_rgb)], kernel_shape=[1, 1])
    b.nodes.append(helper.make_node("Cast", [rgb], [source.name], name="kz_to_model", to=model_type))
    head = b.nodes
    b.nodes = []

    # the model's RGB -> YCbCr -> chroma downsampled -> code values, rounded and clipped
    rgb_out = b.op("Cast", [result.name], to=TensorProto.FLOAT)
    ycc = b.op("Conv", [rgb_out, b.const(forward.astype(np.float32).reshape(3, 3, 1, 1))], kernel_shape=[1, 1])
    y_off, y_span, c_off, c_span = code_scale(layout.bits_out, full)
    top = float((1 << layout.bits_out) - 1)
    y_out = b.affine(b.channels(ycc, 0, 1), y_span, y_off)
    uv_out = b.channels(ycc, 1, 3)
    if layout.sub_h:
        uv_out = b.downsample(uv_out, 2, cosited=False, channels=2)
    if layout.sub_w:
        uv_out = b.downsample(uv_out, 3, cosited=cosited_w, channels=2)
    uv_out = b.affine(uv_out, c_span, c_off)
    planes = [y_out] + [b.channels(uv_out, c, c + 1) for c in (0, 1)]
    for plane, name in zip(planes, PLANES_OUT, strict=True):
        clipped = b.op("Clip", [b.op("Round", [plane]), b.const(0.0), b.const(top)])
        b.nodes.append(helper.make_node("Cast", [clipped], [name], name=f"{name}_cast", to=_io_type(layout.bits_out)))

    nodes = [*head, *graph.node, *b.nodes]
    graph.ClearField("node")
    graph.node.extend(nodes)
    graph.initializer.extend(b.inits)
    kept_inputs = [v for v in graph.input if v.name != source.name]
    in_type = _io_type(layout.bits_in)
    graph.ClearField("input")
    graph.input.extend([helper.make_tensor_value_info(PLANES_IN[0], in_type, [1, 1, "height", "width"]),
                        helper.make_tensor_value_info(PLANES_IN[1], in_type, [1, 1, "cheight", "cwidth"]),
                        helper.make_tensor_value_info(PLANES_IN[2], in_type, [1, 1, "cheight", "cwidth"]),
                        *kept_inputs])
    graph.ClearField("output")
    graph.output.extend([helper.make_tensor_value_info(n, _io_type(layout.bits_out), None) for n in PLANES_OUT])
    graph.ClearField("value_info")
    return out
