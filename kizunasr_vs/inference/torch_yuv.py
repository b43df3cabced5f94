"""The YUV <-> RGB conversion of ``yuv_io`` in PyTorch, for the torch backend (on the GPU, in fp32).

Same layout, constants and filters as the ONNX nodes of ``yuv_io.wrap_yuv_io`` (whose docstring
describes the conversion); tests run both on the same planes. Integer planes in, the model's RGB
in between, integer planes out. Planes deeper than 8 bits travel as int16 tensors holding the
uint16 bit patterns (torch's uint16 lacks arithmetic on some builds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizunasr_vs.core.formats import RANGE_FULL
from kizunasr_vs.inference.yuv_io import CHROMA_LEFT, YuvLayout, code_scale, rgb_to_ycbcr_matrix


def _upsample_centred(x: Any, axis: int, torch: Any) -> Any:
    """2x linear, output samples between input ones (ONNX Resize half_pixel; edges repeat)."""
    scale = (2.0, 1.0) if axis == 2 else (1.0, 2.0)
    return torch.nn.functional.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


def _upsample_cosited(x: Any, axis: int, torch: Any) -> Any:
    """2x linear, even outputs on the input samples (ONNX Resize asymmetric; the last edge repeats)."""
    n = x.shape[axis]
    following = torch.cat([x.narrow(axis, 1, n - 1), x.narrow(axis, n - 1, 1)], dim=axis)
    pair = torch.stack([x, (x + following) * 0.5], dim=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return pair.reshape(shape)


def _every_other(x: Any, axis: int, start: int) -> Any:
    return x[(slice(None),) * axis + (slice(start, None, 2),)]


def _downsample(x: Any, axis: int, cosited: bool, torch: Any) -> Any:
    """2x down: mean of two on centred axes, [1/4, 1/2, 1/4] around co-sited samples (first edge repeats)."""
    even, odd = _every_other(x, axis, 0), _every_other(x, axis, 1)
    if not cosited:
        return (even + odd) * 0.5
    before = torch.cat([x.narrow(axis, 0, 1), odd.narrow(axis, 0, odd.shape[axis] - 1)], dim=axis)
    return before * 0.25 + even * 0.5 + odd * 0.25


def _mix(rows: list[list[float]], x: Any, torch: Any) -> Any:
    """Per-pixel 3x3 (or 1x3, 2x3) matrix product as weighted sums: elementwise work that fuses, where an
    einsum becomes a separate K=3 matrix multiplication (docs/BENCHMARKS.md has its cost at 2160p)."""
    channels = [x[:, c:c + 1] for c in range(3)]
    return torch.cat([row[0] * channels[0] + row[1] * channels[1] + row[2] * channels[2] for row in rows], dim=1)


def plane_tensor_type(bits: int, torch: Any) -> Any:
    """The torch type that holds a plane of ``bits`` (uint16 samples as their int16 bit patterns)."""
    return torch.uint8 if bits <= 8 else torch.int16


def _codes(plane: Any, torch: Any) -> Any:
    """Code values as fp32 from uint8, int16 (uint16 bit patterns) or wider integer planes."""
    return (plane.to(torch.int32) & 0xFFFF).float()


class YuvConverter:
    """Integer Y/U/V planes (``[1, 1, h, w]`` each) to float RGB ``[1, 3, H, W]`` and back, on the planes'
    device (the matrices are Python floats, folded into the kernels)."""

    def __init__(self, layout: YuvLayout) -> None:
        import torch

        self.torch, self.layout = torch, layout
        forward = rgb_to_ycbcr_matrix(layout.matrix)
        self.to_ycc = forward.tolist()
        self.to_rgb = np.linalg.inv(forward).tolist()
        full = layout.range == RANGE_FULL
        self.scale_in = code_scale(layout.bits_in, full)
        self.scale_out = code_scale(layout.bits_out, full)
        self.top = float((1 << layout.bits_out) - 1)
        self.out_dtype = plane_tensor_type(layout.bits_out, torch)
        self.cosited_w = layout.chroma_location == CHROMA_LEFT

    def to_model(self, y: Any, u: Any, v: Any) -> Any:
        """fp32 RGB (0..1 for in-gamut input) at luma size from the integer planes."""
        torch = self.torch
        y_off, y_span, c_off, c_span = self.scale_in
        luma = (_codes(y, torch) - y_off) / y_span
        chroma = (torch.cat([_codes(u, torch), _codes(v, torch)], dim=1) - c_off) / c_span
        if self.layout.sub_h:
            chroma = _upsample_centred(chroma, 2, torch)
        if self.layout.sub_w:
            chroma = _upsample_cosited(chroma, 3, torch) if self.cosited_w else _upsample_centred(chroma, 3, torch)
        return _mix(self.to_rgb, torch.cat([luma, chroma], dim=1), torch)

    def from_model(self, rgb: Any) -> tuple[Any, Any, Any]:
        """Integer Y, U, V planes of the output format from the model's RGB (any float type)."""
        torch = self.torch
        rgb = rgb.float()
        y_off, y_span, c_off, c_span = self.scale_out
        luma = _mix(self.to_ycc[:1], rgb, torch) * y_span + y_off
        # chroma: downsample R, G and B first (the matrix is linear), then convert at the smaller size
        if self.layout.sub_h:
            rgb = _downsample(rgb, 2, False, torch)
        if self.layout.sub_w:
            rgb = _downsample(rgb, 3, self.cosited_w, torch)
        chroma = _mix(self.to_ycc[1:], rgb, torch) * c_span + c_off
        planes = (luma, chroma[:, :1], chroma[:, 1:])
        return tuple(torch.clamp(torch.round(p), 0.0, self.top).to(torch.int32).to(self.out_dtype)
                     for p in planes)
