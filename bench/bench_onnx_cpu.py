"""Benchmark kizunasr_vs.onnx against a bare onnxruntime session on the same frames (CPU).

    .venv/bin/python bench/bench_onnx_cpu.py [--model PATH] [--size 640x480] [--frames 8] [--rounds 3]

Rounds alternate raw / filter (streams=1) / filter (streams=2) so machine noise hits all alike;
the ratio filter fps / raw fps is the figure to compare (1.0 = the wrapper costs nothing). On a
shared, noisy machine the best-of-rounds ratio is the steadier one; the median is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import vapoursynth as vs
from common import MEDIA, SHARED, load_rgb, pull_fps, rgb_clip

from kizunasr_vs.inference.backends import OrtCPU
from kizunasr_vs.inference.onnx_filter import onnx as kz_onnx

DEFAULT_MODEL = SHARED / "models" / "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"


def make_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` different [3, H, W] float32 crops of the real test image (tiled if too small)."""
    rgb = load_rgb(MEDIA / "anime4k_bird_HR.png")
    reps = (-(-(height + count * 8) // rgb.shape[0]), -(-(width + count * 8) // rgb.shape[1]), 1)
    big = np.tile(rgb, reps)
    return [np.ascontiguousarray(big[8 * i:8 * i + height, 8 * i:8 * i + width].transpose(2, 0, 1))
            for i in range(count)]


def time_raw(session: ort.InferenceSession, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for frame in frames:
        session.run(None, {"input": frame[None]})
    return len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    frames = make_frames(width, height, args.frames)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    clip = rgb_clip([f.transpose(1, 2, 0) for f in frames])
    session.run(None, {"input": frames[0][None]})  # warm-up
    streams = (1, 2)
    results: dict[str, list[float]] = {"raw": [], **{f"streams={s}": [] for s in streams}}
    for _ in range(args.rounds):
        results["raw"].append(time_raw(session, frames))
        for s in streams:  # a fresh node each round: VapourSynth's frame cache must not answer
            out = kz_onnx(clip, args.model, backend=OrtCPU(streams=s))
            results[f"streams={s}"].append(pull_fps(out))
    raw, raw_best = statistics.median(results["raw"]), max(results["raw"])
    print(f"{args.model.name} {width}x{height}, {args.frames} frames x {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs, onnxruntime {ort.__version__}, VapourSynth threads {vs.core.num_threads}")
    for name, fps in results.items():
        med, best = statistics.median(fps), max(fps)
        runs = ", ".join(f"{v:.2f}" for v in fps)
        print(f"  {name:10s} median {med:6.2f} fps, best {best:6.2f} fps (runs: {runs}); "
              f"ratio to raw: median {med / raw:.3f}, best {best / raw_best:.3f}")


if __name__ == "__main__":
    main()
