"""On the GPU machine: does the filter's output (CUDA EP fp16, torch fp16) match onnxruntime's fp32 CPU output?

Prints PSNR (dB, RGB 0..1) of each GPU path against the CPU fp32 reference on a real 1920x1080 image,
fed as the same fp16-rounded RGB. Usage: python bench/device_torch_check.py MODEL.onnx IMAGE.png
"""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort
from common import load_rgb, psnr, rgb_clip

import kizunasr_vs as kz


def main() -> None:
    model, image = sys.argv[1], sys.argv[2]
    hwc = load_rgb(image, (1920, 1080)).astype(np.float16).astype(np.float32)  # what the fp16 paths see
    rgb = hwc.transpose(2, 0, 1)
    clip = rgb_clip(hwc)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_inputs()[0]
    feed = rgb[None].astype(np.float16) if "float16" in meta.type else rgb[None]
    reference = session.run(None, {meta.name: feed})[0][0].astype(np.float32)
    for provider in ("cuda", "torch"):
        frame = kz.onnx(clip, model, backend=provider).get_frame(0)
        got = np.stack([np.asarray(frame[p]) for p in range(3)])
        db = psnr(np.clip(got, 0, 1), np.clip(reference, 0, 1))
        print(f"{provider}: PSNR {db:.2f} dB vs onnxruntime CPU fp32, max abs "
              f"{np.abs(got - reference).max():.4f}")


if __name__ == "__main__":
    main()
