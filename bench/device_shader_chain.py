"""On the GPU machine: a chain of user shaders through ``kizunasr_vs.shader`` next to vs-placebo alone.

Usage: python bench/device_shader_chain.py [--frames 64] [--size 1920x1080] SHADER [SHADER ...]

Runs, each in its own subprocess (vs-placebo crashed with six live filters in one process on an H200):

* ``alone``: one ``placebo.Shader`` per shader, in order, each at its output size: vs-placebo alone, the
  baseline (first and again at the end, for drift);
* ``kz``: ``kizunasr_vs.shader(clip, shaders)`` on our own renderer (``renderer="direct"``), the list in one
  render (merged), with N frames in flight (``streams``); ``merge=False``: one render per shader;
* ``kz-vsp``: the same on vs-placebo (``renderer="vs-placebo"``) with N interleaved instances.

fps over ``--frames`` frames after warm-up, the ratio to the baseline's mean, and the PSNR of frame 0 against
the baseline's frame 0 (16-bit planes; merging keeps intermediates in float, so it is not bit-identical).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import WARM_FRAMES, noise_clip, psnr, time_clip
from device_shader_instances import run_json_child

RUNS = [("alone", 1, True), ("kz", 4, True), ("kz", 8, True), ("kz", 4, False), ("kz-vsp", 2, True), ("alone", 1, True)]


def child(mode: str, count: int, merge: bool, shaders: list[str], size: tuple[int, int], frames: int,
          frame0: Path) -> dict[str, object]:
    import vapoursynth as vs

    import kizunasr_vs
    from kizunasr_vs.cli.bench import placebo_alone
    from kizunasr_vs.render.source import load_shader

    src = noise_clip(*size, frames + WARM_FRAMES, vs.YUV444P16)
    if mode == "alone":
        out = placebo_alone(src, [load_shader(path).text for path in shaders])
    elif mode == "kz":
        out = kizunasr_vs.shader(src, shaders, merge=merge, renderer="direct", streams=count)
    else:
        out = kizunasr_vs.shader(src, shaders, merge=merge, renderer="vs-placebo", instances=count)
    first = out.get_frame(0)
    np.save(frame0, np.stack([np.asarray(first[p]) for p in range(3)]))
    return {"mode": mode, "count": count, "merge": merge, "size": f"{out.width}x{out.height}",
            "fps": time_clip(out)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shaders", nargs="+")
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--out")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # mode count merge frame0.npy
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.child:
        mode, inst, merge, frame0 = args.child
        print(json.dumps(child(mode, int(inst), merge == "1", args.shaders, size,  # type: ignore[arg-type]
                               args.frames, Path(frame0))))
        return
    tmp = Path(tempfile.mkdtemp())
    results: list[dict[str, object]] = []
    for i, (mode, inst, merge) in enumerate(RUNS):
        frame0 = tmp / f"{i}.npy"
        cmd = [sys.executable, __file__, *args.shaders, "--frames", str(args.frames), "--size", args.size,
               "--child", mode, str(inst), "1" if merge else "0", str(frame0)]
        result = run_json_child(cmd, 600)
        if "rc" in result:
            results.append({"mode": mode, "count": inst, "merge": merge} | result)
            continue
        frames16 = [np.load(path) / 65535.0 for path in (frame0, tmp / "0.npy")]
        result["psnr_vs_alone_frame0"] = round(psnr(frames16[0], frames16[1], border=0), 2)
        results.append(result)
    base = [float(r["fps"]) for r in results if r["mode"] == "alone" and "fps" in r]  # type: ignore[arg-type]
    for r in results:
        if base and "fps" in r:
            r["ratio"] = round(float(r["fps"]) / (sum(base) / len(base)), 2)  # type: ignore[arg-type]
        print(json.dumps(r), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
