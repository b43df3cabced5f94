"""Cost of shader chains through kizunasr_vs.shader, as ms/frame minus a pass-through shader's, in one run.

Usage: python bench/shader_cost.py [--size 1920x1080] [--frames 30] [--compile MODEL.onnx ...]
Chains measured: pass-through 2x (baseline), edge2x, the performance profile's 1080p chain, and each
``--compile``d ONNX model (fp16 and fp32 GLSL from kizunasr_vs.compiler.glsl).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import vapoursynth as vs
from common import PASSTHROUGH_2X, pull_fps

import kizunasr_vs as kz
from kizunasr_vs.core.resources import shader_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--compile", action="append", default=[], type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    src = vs.core.std.BlankClip(format=vs.YUV420P10, width=width, height=height, length=args.frames + 1,
                                color=[400, 500, 600])
    src = vs.core.std.SetFrameProps(src, _Matrix=1, _Range=0, _Transfer=1, _Primaries=1)
    chains: dict[str, list[str]] = {
        "pass-through 2x": [PASSTHROUGH_2X],
        "edge2x": [str(shader_path("kizuna_edge2x.glsl"))],
        "performance 1080p chain": [str(shader_path(n)) for n in
                                    ("kizuna_edge2x.glsl", "kizuna_antiring2x.glsl", "kizuna_cas.glsl")],
    }
    for model in args.compile:
        from kizunasr_vs.compiler.glsl import compile_onnx_to_glsl

        for precision in ("fp16", "fp32"):
            chains[f"{model.stem} GLSL {precision}"] = [compile_onnx_to_glsl(model, hook="MAIN", precision=precision)]
    results = {}
    for name, shaders in chains.items():
        out = kz.shader(src, shaders)
        results[name] = {"fps": pull_fps(out, warm=1), "size": f"{out.width}x{out.height}"}
    base = 1000 / results["pass-through 2x"]["fps"]
    for name, r in results.items():
        r["ms"] = 1000 / r["fps"]
        r["ms_minus_passthrough"] = r["ms"] - base
        print(f"{name:<55} {r['size']:>10} {r['fps']:8.2f} fps {r['ms']:8.1f} ms  {r['ms_minus_passthrough']:+8.1f} ms")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
