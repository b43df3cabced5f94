"""`kizunasr bench --gpu-cost --shader S ...`: GPU time of 2x shaders, from the slope of repeated runs.

Upload, download and the host side cost the same for every shader and swamp small GPU costs, so each shader runs
``copies`` times in one render, each run but the last followed by a 2x box reduction (a compute pass hooking the
same stage). (ms/frame of that render - ms/frame of the shader once) / (copies - 1) is the GPU time of one run and
one reduction. A pass-through 2x shader measured the same way in the same run is the baseline: a shader's cost is
what it adds to it. Renders go through ``kizunasr_vs.shader`` on bench's noise clip (YUV444P16). Run it on the GPU you
care about: on lavapipe the figures describe the CPU.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli.bench import PASSTHROUGH_2X, _noise_clip
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.runtime.shader_source import split_blocks

REDUCE = """//!DESC kizunasr 2x box reduction between repeated runs
//!HOOK {hook}
//!BIND HOOKED
//!WIDTH HOOKED.w 2 /
//!HEIGHT HOOKED.h 2 /
//!COMPUTE 32 8
void hook() {{
    ivec2 P = ivec2(gl_GlobalInvocationID.xy);
    if (any(greaterThanEqual(P, imageSize(out_image))))
        return;
    vec4 s = texelFetch(HOOKED_raw, 2 * P, 0) + texelFetch(HOOKED_raw, 2 * P + ivec2(1, 0), 0)
           + texelFetch(HOOKED_raw, 2 * P + ivec2(0, 1), 0) + texelFetch(HOOKED_raw, 2 * P + ivec2(1, 1), 0);
    imageStore(out_image, P, HOOKED_mul * 0.25 * s);
}}
"""


@dataclass(frozen=True)
class Cost:
    shader: str
    ms_once: float
    ms_repeated: float
    gpu_ms: float  # one run plus one reduction


def without_params(text: str) -> str:
    """The shader's passes and textures without its ``//!PARAM`` blocks (a PARAM may be defined once a render)."""
    return "".join("".join(f"//!{h}\n" for h in b.headers) + text[b.body_start:b.body_end]
                   for b in split_blocks(text) if not b.headers[0].startswith("PARAM"))


def repeated(text: str, copies: int) -> str:
    """``copies`` runs of a 2x shader in one render, a 2x reduction after each but the last (which alone keeps
    the PARAM blocks)."""
    hook = re.findall(r"^//!HOOK\s+(\S+)", text, re.M)[-1]
    return (without_params(text).rstrip() + "\n\n" + REDUCE.format(hook=hook) + "\n") * (copies - 1) + text


WARM_FRAMES = 12  # untimed: every stream of the renderer compiles its pipelines on its first frame


def ms_per_frame(text: str, src: vs.VideoNode) -> float:
    """Wall ms per frame of rendering ``text`` at 2x over ``src``, after WARM_FRAMES untimed frames."""
    from kizunasr_vs.runtime.placebo import shader

    out = shader(src, [text], width=src.width * 2, height=src.height * 2)
    for _ in out[:WARM_FRAMES].frames(close=True):
        pass
    start = time.perf_counter()
    for _ in out[WARM_FRAMES:].frames(close=True):
        pass
    return (time.perf_counter() - start) * 1000 / (out.num_frames - WARM_FRAMES)


def measure(shaders: Sequence[str], width: int, height: int, frames: int = 32, copies: int = 9) -> list[Cost]:
    """The pass-through first and last (drift shows between them), each shader in between."""
    src = _noise_clip(width, height, frames + WARM_FRAMES, vs.YUV444P16)
    named = [("pass-through", PASSTHROUGH_2X)]
    named += [(Path(s).stem, Path(shader_path(s)).read_text(encoding="utf-8")) for s in shaders]
    named += [("pass-through again", PASSTHROUGH_2X)]
    costs = []
    for name, text in named:
        once = ms_per_frame(text, src)
        many = ms_per_frame(repeated(text, copies), src)
        costs.append(Cost(name, once, many, (many - once) / (copies - 1)))
    return costs


def table(costs: Sequence[Cost], size: str) -> str:
    base = costs[0].gpu_ms
    lines = [f"GPU ms per run, {size} -> 2x (slope of repeated runs); added = above the pass-through", "",
             "| shader | ms/frame once | GPU ms/run | added |", "|---|---|---|---|"]
    lines += [f"| {c.shader} | {c.ms_once:.2f} | {c.gpu_ms:.3f} | {c.gpu_ms - base:+.3f} |" for c in costs]
    return "\n".join(lines)
