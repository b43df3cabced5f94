"""`kizunasr bench --gpu-cost --shader S ...`: what 2x shaders cost, side by side in one run.

Each shader renders at 2x through our renderer, one frame at a time (``streams=1``, as mpv renders), with the
player's own scaling kept small and equal for every shader: bilinear, no sigmoid. (With vs-placebo's EWA Lanczos
a luma doubler would also pay for scaling the chroma planes to the output size, many times a small shader's own
work on lavapipe.) The baseline is a pass-through 2x of the same hook (MAIN, or LUMA for luma doublers) in the
same run, so "added" is the shader's own work.

Figures per frame:

* GPU ms: libplacebo's timer queries, every render pass summed (upload, download and host work excluded).
* CPU ms: the process's CPU time. On lavapipe the GPU is the CPU, so this is the same work counted as CPU time,
  which other load on the machine does not inflate the way it inflates elapsed-time timers; on a real GPU it is
  host work only, so it is shown for software devices alone.
* multiply-adds per source pixel (``render.macs``).

What predicts a consumer GPU: the multiply-adds, and lavapipe's figures of shaders side by side in one run (a CPU
runs fragment and compute passes alike). What does not: Hopper's timers (H100/H200 run fragment passes on a small
part of the chip and compute passes on all of it), hence a warning there.

``--repeat N`` measures the list N times, every other round in reverse order, with the pass-throughs first and last
in each round; figures are medians over the rounds (GPU ms also the minimum: its cost at the highest clock seen).
"""

from __future__ import annotations

import re
import resource
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli.bench_clips import noise_clip, passthrough
from kizunasr_vs.core.errors import InputError
from kizunasr_vs.core.hardware import VulkanDevice
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.render import macs, shaderc

WARM_FRAMES = 12  # untimed: pipelines compile on each stream's first frame, and timer results arrive late
_HOOK = re.compile(r"^//!HOOK\s+(\S+)", re.MULTILINE)


def hook_of(text: str) -> str:
    """The stage a shader's first pass hooks (MAIN when it names none)."""
    found = _HOOK.search(text)
    return found.group(1) if found else "MAIN"


@dataclass(frozen=True)
class Cost:
    shader: str
    hook: str
    wall_ms: float  # wall time per frame of the render, one frame at a time (median of the rounds)
    gpu_ms: float  # GPU time per frame, every pass of the render (median of the rounds)
    gpu_ms_min: float  # the fastest round's GPU time per frame
    cpu_ms: float  # the process's CPU time per frame (median of the rounds)
    passes: float  # render passes per frame
    rounds: int
    samples: tuple[float, ...] = ()  # GPU ms per frame of each round
    cpu_samples: tuple[float, ...] = ()  # CPU ms per frame of each round

    @property
    def baseline(self) -> bool:
        return self.shader.startswith("pass-through")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_one(text: str, src: vs.VideoNode) -> tuple[float, float, float, float]:
    """(wall ms, GPU ms, CPU ms, passes) per frame of rendering ``text`` at 2x over ``src``, after WARM_FRAMES."""
    from kizunasr_vs.render.placebo import shader
    from kizunasr_vs.render.placebo_direct import gpu_timing

    frames = src.num_frames - WARM_FRAMES
    with gpu_timing(plain_scaling=True) as timer:
        out = shader(src, [text], width=src.width * 2, height=src.height * 2, renderer="direct", streams=1)
        for _ in out[:WARM_FRAMES].frames(close=True):
            pass
        timer.reset()
        start, cpu = time.perf_counter(), _cpu_seconds()
        for _ in out[WARM_FRAMES:].frames(close=True):
            pass
        wall, cpu = (time.perf_counter() - start) * 1000 / frames, (_cpu_seconds() - cpu) * 1000 / frames
        if timer.untimed:
            raise vs.Error(f"--gpu-cost: {timer.untimed} render passes came without a GPU time (this Vulkan "
                           "device has no timer queries?); no figure would be right")
        return wall, timer.ms() / frames, cpu, timer.passes / frames


def measure(shaders: Sequence[str], width: int, height: int, frames: int = 32, repeat: int = 1) -> list[Cost]:
    """``repeat`` rounds, every other one in reverse order; each round has the pass-through of every hook used
    first and last and each shader in between. Rows: the pass-throughs, the shaders, the pass-throughs again."""
    if repeat < 1:
        raise InputError(f"--repeat must be >= 1, not {repeat}")
    src = noise_clip(width, height, frames + WARM_FRAMES, vs.YUV444P16)
    named = []
    for s in shaders:
        text = Path(shader_path(s)).read_text(encoding="utf-8")
        named.append((Path(s).stem, hook_of(text), text))
    hooks = list(dict.fromkeys(hook for _, hook, _ in named))
    first = [(f"pass-through {h}", h, passthrough(h)) for h in hooks]
    last = [(f"pass-through {h} again", h, passthrough(h)) for h in hooks]
    table = [*first, *named, *last]
    runs: list[list[tuple[float, float, float, float]]] = [[] for _ in table]
    middle = list(range(len(first), len(first) + len(named)))
    for r in range(repeat):
        order = [*range(len(first)), *(middle if r % 2 == 0 else middle[::-1]),
                 *range(len(first) + len(named), len(table))]
        for i in order:
            runs[i].append(measure_one(table[i][2], src))
    return [Cost(name, hook, statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
                 min(s[1] for s in samples), statistics.median(s[2] for s in samples), samples[0][3], len(samples),
                 tuple(s[1] for s in samples), tuple(s[2] for s in samples))
            for (name, hook, _), samples in zip(table, runs, strict=True)]


def counts(costs: Sequence[Cost], shaders: Sequence[str], width: int,
           height: int) -> dict[str, macs.ShaderCost | None]:
    """Multiply-adds per source pixel of ``measure``'s rows, by row name; None (said on stderr) for a shader
    that cannot be counted: its timings still stand."""
    texts = {c.shader: passthrough(c.hook) for c in costs if c.baseline}
    texts.update((Path(s).stem, str(shader_path(s))) for s in shaders)
    out: dict[str, macs.ShaderCost | None] = {}
    for name, text in texts.items():
        try:
            out[name] = macs.count_shader(text, width, height)
        except (macs.MacsError, shaderc.ShadercError, vs.Error) as exc:
            print(f"kizunasr bench: no multiply-add count for {name}: {exc}", file=sys.stderr)
            out[name] = None
    return out


def baseline(costs: Sequence[Cost], hook: str) -> tuple[float, float, float]:
    """(median GPU ms, minimum GPU ms, median CPU ms) per frame of the pass-through of ``hook``, over its runs at
    the start and the end of every round."""
    own = [c for c in costs if c.baseline and c.hook == hook]
    gpu = [g for c in own for g in (c.samples or (c.gpu_ms,))]
    cpu = [t for c in own for t in (c.cpu_samples or (c.cpu_ms,))]
    return statistics.median(gpu), min(gpu), statistics.median(cpu)


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
    """Each Cost with its multiply-adds, pass kind and what it adds to its hook's pass-through (GPU ms median and
    minimum, CPU ms median)."""
    out = []
    for c in costs:
        count = counted.get(c.shader)
        gpu_median, gpu_min, cpu_median = baseline(costs, c.hook)
        out.append({**asdict(c), "macs": None if count is None else count.macs,
                    "kind": None if count is None else count.kind,
                    "added_ms": c.gpu_ms - gpu_median, "added_ms_min": c.gpu_ms_min - gpu_min,
                    "added_cpu_ms": c.cpu_ms - cpu_median})
    return out


def table(costs: Sequence[Cost], size: str, counted: Mapping[str, macs.ShaderCost | None] | None = None,
          cpu: bool = False) -> str:
    """The rows as Markdown; ``cpu``: with the CPU ms column (software devices)."""
    counted = counted or {}
    rounds = costs[0].rounds
    lines = [f"{size} -> 2x, bilinear player scaling: per frame; added = above the pass-through of the same hook "
             "(its runs at the start and end of every round pooled)"
             + (f"; medians of {rounds} rounds (GPU also the minimum)" if rounds > 1 else ""), "",
             "| shader | hook | kind | multiply-adds/px | passes | GPU ms | min | added | added, min |"
             + (" CPU ms | CPU added |" if cpu else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if cpu else "")]
    for c, row in zip(costs, rows(costs, counted), strict=True):
        count = counted.get(c.shader)
        label = "?" if count is None else count.label()
        line = (f"| {c.shader} | {c.hook} | {row['kind'] or '?'} | {label} | {c.passes:.0f} | {c.gpu_ms:.3f} | "
                f"{c.gpu_ms_min:.3f} | {row['added_ms']:+.3f} | {row['added_ms_min']:+.3f} |")
        lines.append(line + (f" {c.cpu_ms:.2f} | {row['added_cpu_ms']:+.2f} |" if cpu else ""))
    return "\n".join(lines)
