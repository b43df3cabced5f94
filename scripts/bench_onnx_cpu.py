"""Benchmark kizunasr_vs.onnx against a bare onnxruntime session on the same frames (CPU).

    .venv/bin/python scripts/bench_onnx_cpu.py [--model PATH] [--size 640x480] [--frames 8] [--rounds 3]

Rounds alternate raw / filter (streams=1) / filter (streams=2) so machine noise hits all alike;
the ratio filter fps / raw fps is the figure to compare (1.0 = the wrapper costs nothing). On a
shared, noisy machine the best-of-rounds ratio is the steadier one; the median is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import vapoursynth as vs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kizunasr_vs.onnx.onnx_filter import onnx as kz_onnx  # noqa: E402

SHARED = Path(os.environ.get("KIZUNASR_SHARED", REPO.parent / "shared"))
DEFAULT_MODEL = SHARED / "models" / "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"


def make_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` different [3, H, W] float32 crops of the real test image (tiled if too small)."""
    from PIL import Image

    rgb = np.asarray(Image.open(SHARED / "media" / "anime4k_bird_HR.png").convert("RGB"))
    reps = (-(-(height + count * 8) // rgb.shape[0]), -(-(width + count * 8) // rgb.shape[1]), 1)
    big = np.tile(rgb, reps)
    return [np.ascontiguousarray(big[8 * i:8 * i + height, 8 * i:8 * i + width].transpose(2, 0, 1),
                                 dtype=np.float32) / 255 for i in range(count)]


def clip_of(frames: list[np.ndarray]) -> vs.VideoNode:
    _, h, w = frames[0].shape
    blank = vs.core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=len(frames))

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n][p])
        return out

    clip = vs.core.std.ModifyFrame(blank, blank, fill)
    return vs.core.std.SetFrameProps(clip, _Matrix=0, _Range=1, _Transfer=1, _Primaries=1)


def time_raw(session: ort.InferenceSession, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for frame in frames:
        session.run(None, {"input": frame[None]})
    return len(frames) / (time.perf_counter() - start)


def time_filter(clip: vs.VideoNode) -> float:
    start = time.perf_counter()
    for _ in clip.frames():
        pass
    return clip.num_frames / (time.perf_counter() - start)


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
    clip = clip_of(frames)
    session.run(None, {"input": frames[0][None]})  # warm-up
    streams = (1, 2)
    results: dict[str, list[float]] = {"raw": [], **{f"streams={s}": [] for s in streams}}
    for _ in range(args.rounds):
        results["raw"].append(time_raw(session, frames))
        for s in streams:  # a fresh node each round: VapourSynth's frame cache must not answer
            out = kz_onnx(clip, args.model, provider="cpu", streams=s)
            results[f"streams={s}"].append(time_filter(out))
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
