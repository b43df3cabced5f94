"""When the AI still on pause adds something: its chain differs from the chain already playing and does more work.

A still of the chain on screen would only show the same picture again, after seconds of work. So a still is
made only when the pause chain is heavier than the realtime chain: models count above any shader chain (a
model step is a network run on the whole frame), then the shaders' multiply-adds per source pixel
(``render.macs``). Each step's work is weighted by the area it runs at (a 2x step makes the next one run on four
times the pixels), so two light steps at growing sizes can outweigh one heavy step.
"""

from __future__ import annotations

import functools
import os

import vapoursynth as vs

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.profiles.loader import Step
from kizunasr_vs.render.macs import count_shader
from kizunasr_vs.render.source import infer_output_size, load_shader

_NOMINAL = (960, 540)  # the source size the steps are counted at (per-pixel figures barely depend on it)


@functools.lru_cache(maxsize=32)
def _shader_facts(path: str, _stamp: tuple[int, int]) -> tuple[float, float]:
    """(multiply-adds per input pixel, output area over input area) of a shader file; cached per file version."""
    shader = load_shader(path)
    macs = count_shader(shader, *_NOMINAL).macs
    w, h = infer_output_size(shader, *_NOMINAL)
    return macs, (w * h) / (_NOMINAL[0] * _NOMINAL[1])


def shader_work(name: str) -> tuple[float, float]:
    """(multiply-adds per input pixel, output area over input area) of a profile's shader step."""
    path = shader_path(name)
    stat = path.stat()
    return _shader_facts(os.fspath(path), (stat.st_mtime_ns, stat.st_size))


def chain_work(steps: list[Step]) -> tuple[int, float]:
    """(model steps, shader multiply-adds per source pixel, each step weighted by the area it runs at).

    OSError, vs.Error or KizunaError (render.macs) when a shader cannot be read or counted."""
    models, work, area = 0, 0.0, 1.0
    for step in steps:
        if "model" in step or "compiled_model" in step:
            models += 1
        elif "shader" in step:
            macs, scale = shader_work(str(step["shader"]))
            work += macs * area
            area *= scale
        elif "resize" in step:
            area *= float(step["resize"].get("scale", 1.0)) ** 2
    return models, work


def no_still_reason(realtime: list[Step], pause: list[Step]) -> str | None:
    """Why a still of ``pause`` would add nothing to what ``realtime`` shows; None when it adds something (or
    when a shader cannot be read: the still then says what is missing)."""
    if not pause:
        return "this profile has no pause chain for this source"
    if pause == realtime:
        return "its pause chain is the chain already playing"
    try:
        heavier = chain_work(pause) > chain_work(realtime)
    except (OSError, ValueError, vs.Error, KizunaError):  # uncounted: the still is tried
        return None
    return None if heavier else "its pause chain is no heavier than the chain already playing"
