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

Each row also carries the shader's multiply-adds per source pixel (``render.macs``), and the output names the
device. What predicts a consumer GPU: the multiply-adds, and lavapipe's ms of shaders side by side in one run
(a CPU runs fragment and compute passes alike). What does not: Hopper's timers (H100/H200 run fragment passes on
a small part of the chip and compute passes on all of it), hence a warning there.

An earlier version took the slope of repeated runs in one render; that hid the GPU time of a shader whose
render was bound by something else than the GPU, so it is gone.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli.bench import PASSTHROUGH_2X, _noise_clip
from kizunasr_vs.core.hardware import VulkanDevice
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.render import macs, shaderc

WARM_FRAMES = 12  # untimed: pipelines compile on each stream's first frame, and timer results arrive late


@dataclass(frozen=True)
class Cost:
    shader: str
    wall_ms: float  # wall time per frame of the render, one frame at a time (median of the rounds)
    gpu_ms: float  # GPU time per frame, every pass of the render (median of the rounds)
    gpu_ms_min: float  # the fastest round's GPU time per frame
    passes: float  # render passes per frame
    rounds: int
    samples: tuple[float, ...] = ()  # GPU ms per frame of each round


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
    src = _noise_clip(width, height, frames + WARM_FRAMES, vs.YUV444P16)
    named = [(Path(s).stem, Path(shader_path(s)).read_text(encoding="utf-8")) for s in shaders]
    rows = [("pass-through", PASSTHROUGH_2X), *named, ("pass-through again", PASSTHROUGH_2X)]
    runs: list[list[tuple[float, float, float]]] = [[] for _ in rows]
    for r in range(repeat):
        middle = list(range(1, len(rows) - 1))
        for i in [0, *(middle if r % 2 == 0 else middle[::-1]), len(rows) - 1]:
            runs[i].append(measure_one(rows[i][1], src))
    return [Cost(name, statistics.median(w for w, _, _ in samples), statistics.median(g for _, g, _ in samples),
                 min(g for _, g, _ in samples), samples[0][2], len(samples), tuple(g for _, g, _ in samples))
            for (name, _), samples in zip(rows, runs, strict=True)]


def counts(shaders: Sequence[str], width: int, height: int) -> dict[str, macs.ShaderCost | None]:
    """Multiply-adds per source pixel of the rows ``measure`` makes, by row name; None (said on stderr) for a
    shader that cannot be counted: its timings still stand."""
    out: dict[str, macs.ShaderCost | None] = {}
    for name, text in [("pass-through", PASSTHROUGH_2X), *((Path(s).stem, str(shader_path(s))) for s in shaders)]:
        try:
            out[name] = macs.count_shader(text, width, height)
        except (macs.MacsError, shaderc.ShadercError, vs.Error) as exc:
            print(f"kizunasr bench: no multiply-add count for {name}: {exc}", file=sys.stderr)
            out[name] = None
    out["pass-through again"] = out["pass-through"]
    return out


def baseline(costs: Sequence[Cost]) -> tuple[float, float]:
    """(median, minimum) GPU ms per frame of the pass-through, over its runs at the start and the end of every
    round."""
    samples = [g for c in costs if c.shader.startswith("pass-through") for g in (c.samples or (c.gpu_ms,))]
    return statistics.median(samples), min(samples)


HOPPER = re.compile(r"\bG?H(?:100|200|800|20)\b")


def device_lines(device: VulkanDevice) -> list[str]:
    """Which device ran, and on Hopper the warning that its fragment and compute timings do not compare."""
    if device.name is None:
        return [f"device: unknown ({device.error})"]
    if device.software:
        return [f"device: {device.name} (lavapipe, a CPU: it runs fragment and compute passes alike; compare the "
                "shaders of this run with each other)"]
    lines = [f"device: {device.name} (GPU)"]
    if HOPPER.search(device.name):
        lines.append("warning: Hopper-class GPU: it runs fragment passes on a small part of the chip and compute "
                     "passes on all of it, so fragment against compute timings here say nothing about a consumer "
                     "GPU; compare multiply-adds, or lavapipe ms from one run")
    return lines


def rows(costs: Sequence[Cost], counted: Mapping[str, macs.ShaderCost | None]) -> list[dict[str, object]]:
    """Each Cost with its multiply-adds, pass kind and ms above the pass-through (median, minimum)."""
    base_median, base_min = baseline(costs)
    out = []
    for c in costs:
        count = counted.get(c.shader)
        out.append({**asdict(c), "macs": None if count is None else count.macs,
                    "kind": None if count is None else count.kind,
                    "added_ms": c.gpu_ms - base_median, "added_ms_min": c.gpu_ms_min - base_min})
    return out


def table(costs: Sequence[Cost], size: str, counted: Mapping[str, macs.ShaderCost | None] | None = None) -> str:
    counted = counted or {}
    rounds = costs[0].rounds
    lines = [f"{size} -> 2x: GPU ms per frame (libplacebo's timers, every pass); added = above the pass-through "
             "(its runs at the start and end of every round pooled)"
             + (f"; median and minimum of {rounds} rounds" if rounds > 1 else ""), "",
             "| shader | kind | multiply-adds/px | passes | wall ms/frame | GPU ms/frame | min | added | added, min |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c, row in zip(costs, rows(costs, counted), strict=True):
        count = counted.get(c.shader)
        label = "?" if count is None else count.label()
        lines.append(f"| {c.shader} | {row['kind'] or '?'} | {label} | {c.passes:.0f} | {c.wall_ms:.2f} | "
                     f"{c.gpu_ms:.3f} | {c.gpu_ms_min:.3f} | {row['added_ms']:+.3f} | {row['added_ms_min']:+.3f} |")
    return "\n".join(lines)
