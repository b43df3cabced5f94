"""`kizunasr bench --gpu-cost --shader S ...`: GPU time of 2x shaders, from libplacebo's GPU timers.

Our renderer hands every render pass to a timer (``placebo_direct.gpu_timing``) that sums the GPU time libplacebo
measured for it with timer queries; upload, download and host work are not in it. A pass-through 2x shader
measured the same way in the same run is the baseline (libplacebo's own passes, such as the colour conversion,
are in both). Frames are rendered one at a time, as mpv renders them (``streams=1``); the wall time per frame is
reported next to it. Renders go through ``kizunasr_vs.shader`` on bench's noise clip (YUV444P16). Run it on the
GPU you care about: on lavapipe the figures describe the CPU.

The GPU's clocks follow its load, and a render one frame at a time leaves it mostly idle: on an H200 the same
compute-pass shader measured from 3.7 to 14.3 ms between runs (docs/BENCHMARKS.md), while most fragment-pass
shaders repeated to 0.01 ms.
``--repeat N`` measures the whole list N times, every other round in reverse order, and reports the median and
the minimum of each shader's rounds (the minimum: its cost at the highest clock it saw).

An earlier version took the slope of repeated runs in one render; that hid the GPU time of a shader whose
render was bound by something else than the GPU, so it is gone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli.bench_clips import PASSTHROUGH_2X, noise_clip
from kizunasr_vs.core.resources import shader_path

WARM_FRAMES = 12  # untimed: pipelines compile on each stream's first frame, and timer results arrive late


@dataclass(frozen=True)
class Cost:
    shader: str
    wall_ms: float  # wall time per frame of the render, one frame at a time (median of the rounds)
    gpu_ms: float  # GPU time per frame, every pass of the render (median of the rounds)
    gpu_ms_min: float  # the fastest round's GPU time per frame
    passes: float  # render passes per frame
    rounds: int


def measure_one(text: str, src: vs.VideoNode) -> tuple[float, float, float]:
    """(wall ms, GPU ms, passes) per frame of rendering ``text`` at 2x over ``src``, after WARM_FRAMES."""
    from kizunasr_vs.render.placebo import shader
    from kizunasr_vs.render.placebo_direct import gpu_timing

    frames = src.num_frames - WARM_FRAMES
    with gpu_timing() as timer:
        out = shader(src, [text], width=src.width * 2, height=src.height * 2, renderer="direct", streams=1)
        for _ in out[:WARM_FRAMES].frames(close=True):
            pass
        timer.reset()
        start = time.perf_counter()
        for _ in out[WARM_FRAMES:].frames(close=True):
            pass
        wall = (time.perf_counter() - start) * 1000 / frames
        if timer.untimed:
            raise vs.Error(f"--gpu-cost: {timer.untimed} render passes came without a GPU time (this Vulkan "
                           "device has no timer queries?); no figure would be right")
        return wall, timer.ms() / frames, timer.passes / frames


def measure(shaders: Sequence[str], width: int, height: int, frames: int = 32, repeat: int = 1) -> list[Cost]:
    """``repeat`` rounds, every other one in reverse order; each round has the pass-through first and last
    (drift shows between them) and each shader in between. One Cost per row of the first round."""
    if repeat < 1:
        raise ValueError(f"--repeat must be >= 1, not {repeat}")
    src = noise_clip(width, height, frames + WARM_FRAMES, vs.YUV444P16)
    named = [(Path(s).stem, Path(shader_path(s)).read_text(encoding="utf-8")) for s in shaders]
    rows = [("pass-through", PASSTHROUGH_2X), *named, ("pass-through again", PASSTHROUGH_2X)]
    runs: list[list[tuple[float, float, float]]] = [[] for _ in rows]
    for r in range(repeat):
        middle = list(range(1, len(rows) - 1))
        for i in [0, *(middle if r % 2 == 0 else middle[::-1]), len(rows) - 1]:
            runs[i].append(measure_one(rows[i][1], src))
    return [Cost(name, statistics.median(w for w, _, _ in samples), statistics.median(g for _, g, _ in samples),
                 min(g for _, g, _ in samples), samples[0][2], len(samples))
            for (name, _), samples in zip(rows, runs, strict=True)]


def table(costs: Sequence[Cost], size: str) -> str:
    base = costs[0].gpu_ms_min
    rounds = costs[0].rounds
    lines = [f"{size} -> 2x: GPU ms per frame (libplacebo's timers, every pass); added = above the pass-through"
             + (f"; median and minimum of {rounds} rounds, added from the minima" if rounds > 1 else ""), "",
             "| shader | wall ms/frame | passes | GPU ms/frame | min | added |", "|---|---|---|---|---|---|"]
    lines += [f"| {c.shader} | {c.wall_ms:.2f} | {c.passes:.0f} | {c.gpu_ms:.3f} | {c.gpu_ms_min:.3f} | "
              f"{c.gpu_ms_min - base:+.3f} |" for c in costs]
    return "\n".join(lines)
