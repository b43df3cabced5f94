#!/usr/bin/env python3
"""Wall fps of shader chains through kizunasr_vs.shader on this machine's Vulkan device (lavapipe on a CPU-only
machine), each chain next to a pass-through 2x in the same run: what a GPU-less viewer's realtime chain costs.

Usage: python bench/lavapipe_chain_cost.py [--size 640x360] [--frames 16] CHAIN ...
A CHAIN is comma-separated shader names or files, e.g. kizuna_edge2x,kizuna_antiring2x,kizuna_cas.
"""

from __future__ import annotations

import argparse
import time

import vapoursynth as vs

from kizunasr_vs.cli.bench import PASSTHROUGH_2X, _noise_clip
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.shader.placebo import shader

WARM = 8


def fps(texts: list[str], src: vs.VideoNode) -> float:
    out = shader(src, texts, width=src.width * 2, height=src.height * 2)
    for _ in out[:WARM].frames(close=True):
        pass
    start = time.perf_counter()
    for _ in out[WARM:].frames(close=True):
        pass
    return (out.num_frames - WARM) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chains", nargs="+")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    src = _noise_clip(w, h, args.frames + WARM, vs.YUV444P16)
    base = fps([PASSTHROUGH_2X], src)
    print(f"pass-through 2x: {base:.2f} fps ({args.size} -> 2x)")
    for chain in args.chains:
        texts = [shader_path(s).read_text(encoding="utf-8") for s in chain.split(",")]
        value = fps(texts, src)
        print(f"{chain}: {value:.2f} fps, {value / base:.2f}x the pass-through")


if __name__ == "__main__":
    main()
