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
from kizunasr_vs.runtime.yuv_io import CHROMA_LEFT, YuvLayout, code_scale, rgb_to_ycbcr_matrix


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


def _matrix(values: np.ndarray, torch: Any, device: Any) -> Any:
    return torch.tensor(values.astype(np.float32), device=device)


def plane_tensor_type(bits: int, torch: Any) -> Any:
    """The torch type that holds a plane of ``bits`` (uint16 samples as their int16 bit patterns)."""
    return torch.uint8 if bits <= 8 else torch.int16


def _codes(plane: Any, torch: Any) -> Any:
    """Code values as fp32 from uint8, int16 (uint16 bit patterns) or wider integer planes."""
    return (plane.to(torch.int32) & 0xFFFF).float()


class YuvConverter:
    """Integer Y/U/V planes (``[1, 1, h, w]`` each) to float RGB ``[1, 3, H, W]`` and back, on ``device``."""

    def __init__(self, layout: YuvLayout, device: Any) -> None:
        import torch

        self.torch, self.layout = torch, layout
        forward = rgb_to_ycbcr_matrix(layout.matrix)
        self.to_ycc = _matrix(forward, torch, device)
        self.to_rgb = _matrix(np.linalg.inv(forward), torch, device)
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
        ycc = torch.cat([luma, chroma], dim=1)
        return torch.einsum("ij,njhw->nihw", self.to_rgb, ycc)

    def from_model(self, rgb: Any) -> tuple[Any, Any, Any]:
        """Integer Y, U, V planes of the output format from the model's RGB (any float type)."""
        torch = self.torch
        ycc = torch.einsum("ij,njhw->nihw", self.to_ycc, rgb.float())
        y_off, y_span, c_off, c_span = self.scale_out
        chroma = ycc[:, 1:]
        if self.layout.sub_h:
            chroma = _downsample(chroma, 2, False, torch)
        if self.layout.sub_w:
            chroma = _downsample(chroma, 3, self.cosited_w, torch)
        luma = ycc[:, :1] * y_span + y_off
        chroma = chroma * c_span + c_off
        planes = (luma, chroma[:, :1], chroma[:, 1:])
        return tuple(torch.clamp(torch.round(p), 0.0, self.top).to(torch.int32).to(self.out_dtype)
                     for p in planes)
