#!/usr/bin/env python3
"""Wall fps of shader chains through kizunasr_vs.shader on this machine's Vulkan device (lavapipe on a CPU-only
machine), each chain next to a pass-through 2x in the same run: what a GPU-less viewer's realtime chain costs.

Usage: python bench/lavapipe_chain_cost.py [--size 640x360] [--frames 16] CHAIN ...
A CHAIN is comma-separated shader names or files, e.g. kizuna_edge2x,kizuna_antiring2x,kizuna_cas.
"""

from __future__ import annotations

import argparse

import vapoursynth as vs
from common import PASSTHROUGH_2X, noise_clip, pull_fps

from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.render.placebo import shader

WARM = 8


def fps(texts: list[str], src: vs.VideoNode) -> float:
    return pull_fps(shader(src, texts, width=src.width * 2, height=src.height * 2), WARM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chains", nargs="+")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    src = noise_clip(w, h, args.frames + WARM, vs.YUV444P16)
    base = fps([PASSTHROUGH_2X], src)
    print(f"pass-through 2x: {base:.2f} fps ({args.size} -> 2x)")
    for chain in args.chains:
        texts = [shader_path(s).read_text(encoding="utf-8") for s in chain.split(",")]
        value = fps(texts, src)
        print(f"{chain}: {value:.2f} fps, {value / base:.2f}x the pass-through")


if __name__ == "__main__":
    main()
