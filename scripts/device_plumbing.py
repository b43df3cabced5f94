"""On the GPU machine: the ceiling the VapourSynth side puts on the onnx filter, 1080p -> 2160p.

A null model (nearest 2x Resize, next to no GPU work) through ``kizunasr_vs.onnx`` shows how fast frames
move through sources, ModifyFrame branches, frame allocation and host <-> device copies alone.
Usage: python scripts/device_plumbing.py
"""

from __future__ import annotations

import numpy as np
import vapoursynth as vs
from onnx import TensorProto, helper, numpy_helper

import kizunasr_vs as kz
from kizunasr_vs.cli.bench import _noise_clip, time_clip


def null_model() -> bytes:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    roi = numpy_helper.from_array(np.zeros(0, dtype=np.float32), "roi")
    node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode="nearest")
    graph = helper.make_graph([node], "null2x", [helper.make_tensor_value_info("x", TensorProto.FLOAT16,
                                                                               [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)], [scales, roi])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def new_frames(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
    return vs.core.create_video_frame(f.format, f.width, f.height)


def main() -> None:
    frames = 64
    model = null_model()
    rgb = _noise_clip(1920, 1080, frames + 8, vs.RGBS)
    yuv = _noise_clip(1920, 1080, frames + 8, vs.YUV420P8)
    big = vs.core.std.BlankClip(format=vs.YUV420P10, width=3840, height=2160, length=frames + 8)
    print(f"vs threads {vs.core.num_threads}")
    rows = {"source RGBS -> RGBH": rgb.resize.Point(format=vs.RGBH), "source YUV420P8": yuv,
            "python ModifyFrame: new 2160p YUV420P10 frames": vs.core.std.ModifyFrame(big, big, new_frames)}
    for streams in (2, 4, 8):
        rows[f"null model RGB fp16 streams={streams}"] = kz.onnx(rgb, model, provider="cuda", streams=streams,
                                                                 yuv_io=False)
        rows[f"null model yuv in-session streams={streams}"] = kz.onnx(yuv, model, provider="cuda", streams=streams,
                                                                       output_format=vs.YUV420P10)
    for name, clip in rows.items():
        print(f"{name:<55} {time_clip(clip):8.1f} fps", flush=True)


if __name__ == "__main__":
    main()
