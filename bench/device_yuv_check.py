"""On the GPU machine: the onnx filter with the colour conversion on the GPU (CUDA EP in the session, and
the torch backend) in fp16 against the CPU fp32 zimg path on a real image: PSNR per plane (issue 7's fp16
tolerance: >= 45 dB).

Usage: python bench/device_yuv_check.py MODEL.onnx IMAGE [PROVIDER ...]   (default: cuda torch)
"""

from __future__ import annotations

import sys

import numpy as np
import vapoursynth as vs
from common import load_rgb, psnr, rgb_clip

import kizunasr_vs as kz


def main() -> None:
    model, image = sys.argv[1], sys.argv[2]
    pixels = load_rgb(image)
    h, w = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2  # even: 4:2:0
    yuv = rgb_clip(pixels[:h, :w]).resize.Bicubic(format=vs.YUV420P10, matrix=1, range=0, range_in=1)
    yuv = vs.core.std.SetFrameProps(yuv, _Matrix=1, _Range=0, _ChromaLocation=0, _Transfer=1, _Primaries=1)
    fc = kz.onnx(yuv, model, backend=kz.OrtCPU(fp16=False), yuv_io=False).get_frame(0)
    for provider in sys.argv[3:] or ["cuda", "torch"]:
        fg = kz.onnx(yuv, model, backend=provider, yuv_io=True).get_frame(0)
        for p, name in enumerate("YUV"):
            a, b = np.asarray(fg[p], dtype=np.float64), np.asarray(fc[p], dtype=np.float64)
            print(f"{provider} {name}: PSNR {psnr(a, b, peak=1023.0):.2f} dB (fp16, converted "
                  f"on the GPU, vs CPU fp32 zimg), max diff {np.abs(a - b).max():.0f}")


if __name__ == "__main__":
    main()
