"""Compile small feed-forward conv nets (ONNX) into mpv / libplacebo user shaders.

Supported: Conv (1x1 / 3x3, stride 1, same padding with zeros or, behind a Pad in edge mode, with the
edge pixels; group 1, bias), Relu, PRelu, LeakyRelu, Clip, Add / Sub / Mul of two tensors, Add / Sub /
Mul / Div by scalar or per-channel constants, Concat (channels), DepthToSpace (DCR, CRD), Resize /
Upsample nearest by an integer factor, Identity, Dropout, float Cast; any node whose inputs are all
constant (an exporter's shape arithmetic) is evaluated at compile time. That covers SRVGGNetCompact
(AnimeJaNai, Real-ESRGAN compact) models. Anything else raises :class:`CompileError` naming the node and op.

Shader layout: one ``//!COMPUTE`` pass per stored tensor (one thread per pixel, ``imageStore`` to
``out_image``; fragment passes are far slower on GPUs with few graphics-capable SMs such as the
NVIDIA H100). A tensor of C channels is *packed*: its C/4 groups of 4 channels sit side by side in
one ``//!COMPONENTS 4`` texture, a grid of texels per pixel (24 channels: 3 x 2), written by the
thread of that pixel (``//!COMPUTE bw*gx bh*gy bw bh``), so each input texel is read once per pass
rather than once per 4 output channels (SuperUltraCompact: 11 passes instead of 58; its GPU time is in
docs/BENCHMARKS.md). Intermediate textures are passed with ``//!SAVE`` / ``//!BIND`` (at most 16
per pass; wider convolutions are split into partial sums), weights as ``const mat4`` literals,
activations / constant arithmetic / residual adds fused into the conv pass, constant Mul/Add
folded into the conv weights. The
last pass hooks ``MAIN`` (RGB models) or ``LUMA`` (1-channel models), has the model's output
size (``//!WIDTH HOOKED.w 2 *``) and replaces the hooked image. Use it as
``mpv --glsl-shaders=model.glsl`` or with :func:`kizunasr_vs.shader`.

Precision (``precision=``):

``fp32``
    Constants with float32 precision (9 significant digits); default (highp) arithmetic.
``fp16``
    Constants rounded to binary16; accumulators and temporaries declared ``mediump``
    (SPIR-V RelaxedPrecision), so GPUs that honour it (mostly mobile) may use half-precision
    ALUs. Desktop GL / Vulkan drivers and Mesa lavapipe compute ``mediump`` in fp32. The
    AnimeJaNai V3 weights are already exact binary16 values, so for them fp16 == fp32 on
    such drivers.

Intermediate *storage* is chosen by the host, not the shader: libplacebo (mpv ``--vo=gpu-next``,
vs-placebo) stores every hook pass in ``rgba16f`` with no option to change it (mpv's
``--fbo-format`` is ignored there); mpv ``--vo=gpu`` honours ``--fbo-format=rgba32f``. The merged
RGB image at MAIN is rgba16f too. So PSNR vs onnxruntime on libplacebo is bounded by half-precision
rounding of every stored activation, not by the weights (lavapipe, which converts to fp16 by
truncation, is the worst case; round-to-nearest GPUs do better, fp32 storage better still: the figures are
in docs/BENCHMARKS.md).

Memory: libplacebo keeps every pass output texture alive until the frame is done: about
``gx x gy x W x H x 8`` bytes per stored tensor (``gx x gy`` >= channels / 4 texels per pixel;
UltraCompact: about 2.3 GiB at 1080p). A packed texture is at most 4 texels wide per pixel: 15360
for a 3840-wide tensor, within the 16384 that Vulkan drivers (lavapipe included) allow; tensors
stored at 2x scale (before a pixel shuffle) are twice that. A value whose packed pass would need
more than 16 textures falls back to one pass per 4 channels.
Limitations: the whole hooked texture is processed with ``texelFetch`` (if a host hands over a
texture larger than the visible crop, padding, zero or edge, applies at the texture edge, not the
crop edge). The host must support compute shaders and storable ``rgba16f`` (libplacebo on Vulkan,
mpv ``--vo=gpu-next`` / ``--vo=gpu`` with OpenGL 4.3+ or Vulkan).
"""

from __future__ import annotations

import os
from pathlib import Path

from kizunasr_vs.compiler.emit import Emitter, Hook, Precision
from kizunasr_vs.compiler.errors import CompileError
from kizunasr_vs.compiler.graph import ModelLike, normalise
from kizunasr_vs.core.files import write_atomic

COMPILER_VERSION = "7"  # part of compiled-model cache keys: bump whenever the generated GLSL changes

__all__ = ["COMPILER_VERSION", "CompileError", "Hook", "Precision", "compile_onnx_to_glsl", "export_glsl"]


def compile_onnx_to_glsl(model: ModelLike, hook: Hook = "MAIN", precision: Precision = "fp32",
                         pack: bool = True) -> str:
    """Compile an ONNX model (path, bytes or ModelProto) to mpv user-shader text; ``pack``: one pass
    per stored value with its channel groups side by side in one texture (see ``Emitter``).

    Raises :class:`CompileError` for unsupported ops, attributes or channel counts.
    """
    hook = hook.upper()  # type: ignore[assignment]
    precision = precision.lower()  # type: ignore[assignment]
    graph = normalise(model)
    emitter = Emitter(graph, hook, precision, pack=pack)
    body = emitter.render()
    header = (
        f"// Generated by kizunasr glsl_compiler v{COMPILER_VERSION} from {graph.name}\n"
        f"// hook={hook} precision={precision} passes={len(emitter.passes)} "
        f"scale={graph.output.scale}x\n"
        "// Convolutions via texelFetch (zero or edge padding, as in the model); one compute pass per "
        + ("stored tensor, channel groups packed side by side" if pack else "4 channels of a stored tensor")
        + ".\n\n"
    )
    return header + body


def export_glsl(model_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                hook: Hook = "MAIN", precision: Precision = "fp32") -> Path:
    """Compile ``model_path`` and write the shader to ``out_path`` atomically; returns the path.

    On any error nothing is written (no partial or temporary file is left behind).
    """
    text = compile_onnx_to_glsl(model_path, hook, precision)
    return write_atomic(Path(out_path), text)
