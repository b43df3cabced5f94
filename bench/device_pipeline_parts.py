"""On the GPU machine: fps of the pieces around the model, 1080p -> 2160p, to tell where time goes when the
onnx filter runs slower than the bare model: sources, conversions, frame writes, and a null model (nearest 2x
Resize, next to no GPU work) through ``kizunasr_vs.onnx``, which shows how fast frames move through
ModifyFrame branches, frame allocation and host <-> device copies alone.

Usage: python bench/device_pipeline_parts.py
"""

from __future__ import annotations

import numpy as np
import vapoursynth as vs
from common import WARM_FRAMES, noise_clip, time_clip
from onnx import TensorProto, helper, numpy_helper

import kizunasr_vs as kz


def copy_planes(n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
    out = f[0].copy()
    for p in range(3):
        np.asarray(out[p]).fill(0)  # the same 2160p writes a model's output costs
    return out


def null_model() -> bytes:
    """Nearest 2x upscaling of fp16 RGB: the filter's plumbing with next to no model work."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    roi = numpy_helper.from_array(np.zeros(0, dtype=np.float32), "roi")
    node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode="nearest")
    graph = helper.make_graph([node], "null2x", [helper.make_tensor_value_info("x", TensorProto.FLOAT16,
                                                                               [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)], [scales, roi])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def main() -> None:
    length = 64 + WARM_FRAMES
    noise = noise_clip(1920, 1080, length, vs.RGBS)
    yuv = noise_clip(1920, 1080, length, vs.YUV420P8)
    half = noise.resize.Point(format=vs.RGBH)
    big = vs.core.std.BlankClip(half, width=3840, height=2160, keep=True)
    write_only = vs.core.std.ModifyFrame(big, [big, half], copy_planes)
    blank_src = vs.core.std.BlankClip(format=vs.RGBS, width=1920, height=1080, length=length, keep=True)
    parts = {
        "noise source RGBS (python ModifyFrame)": noise,
        "blank source RGBS": blank_src,
        "noise -> RGBH (zimg)": half,
        "noise -> YUV420P8 (zimg)": yuv,
        "2160p RGBH output frame written by numpy (no model)": write_only,
        "2160p RGBH -> YUV420P10 (zimg)": big.resize.Bicubic(format=vs.YUV420P10, matrix=1),
    }
    model = null_model()
    for streams in (2, 4, 8):
        parts[f"null model RGB fp16 streams={streams}"] = kz.onnx(noise, model, backend=kz.OrtCUDA(streams=streams),
                                                                  yuv_io=False)
        parts[f"null model YUV in-session streams={streams}"] = kz.onnx(yuv, model, backend=kz.OrtCUDA(streams=streams),
                                                                        output_format=vs.YUV420P10)
    print(f"vs threads {vs.core.num_threads}")
    for name, clip in parts.items():
        print(f"{name:<55} {time_clip(clip):8.1f} fps", flush=True)


if __name__ == "__main__":
    main()
