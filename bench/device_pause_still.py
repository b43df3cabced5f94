"""The mpv worker's per-still time on a GPU: a 1080p frame through a pause chain, fitted to a 1920x1080 rectangle.

Usage: python bench/device_pause_still.py MODEL.onnx IMAGE.png [PROVIDER]
Prints the first pause (sessions created) and the warm pauses that follow (the sessions are cached).
"""

from __future__ import annotations

import sys
import time

import common  # noqa: F401 - puts this checkout on sys.path first
import numpy as np
from PIL import Image

from kizunasr_vs.mpv.pause_job import Rect, StillRenderer, to_bgra


def main() -> None:
    model, image = sys.argv[1], sys.argv[2]
    provider = sys.argv[3] if len(sys.argv) > 3 else "auto"
    rgb = np.asarray(Image.open(image).convert("RGB").resize((1920, 1080), Image.BICUBIC))
    rect = Rect(0, 0, 1920, 1080)
    for n in range(6):
        start = time.perf_counter()
        data = to_bgra(StillRenderer(provider).render(rgb, [{"model": model}], rect))
        label = "first pause" if n == 0 else f"warm pause {n}"
        print(f"{label}: {(time.perf_counter() - start) * 1000:.0f} ms ({len(data)} bytes BGRA)")


if __name__ == "__main__":
    main()
