"""On the GPU machine: fps of a profile's encode chain on a real decoded clip (bestsource), frames discarded.

Usage: KIZUNASR_MODELS_DIR=... python bench/device_encode_chain.py CLIP.mp4 PROFILE FRAMES [PROVIDER]
"""

from __future__ import annotations

import sys
import time

import common  # noqa: F401 - puts this checkout on sys.path first
import vapoursynth as vs

import kizunasr_vs as kz


def main() -> None:
    path, profile, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
    provider = sys.argv[4] if len(sys.argv) > 4 else "auto"
    source = vs.core.bs.VideoSource(path)[: frames + 1]
    clip = kz.upscale(source, profile, backend=provider).resize.Bicubic(format=vs.YUV420P10)
    clip.get_frame(0)
    start = time.perf_counter()
    count = sum(1 for _ in clip[1:].frames(close=True))
    elapsed = time.perf_counter() - start
    print(f"{profile} ({provider}) {source.width}x{source.height} -> {clip.width}x{clip.height}: "
          f"{count / elapsed:.2f} fps over {count} frames (YUV420P10 out, decode included)")


if __name__ == "__main__":
    main()
