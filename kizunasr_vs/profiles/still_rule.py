"""When the AI still on pause adds something: its chain differs from the chain already playing and does more work.

A still of the chain on screen would only show the same picture again, after seconds of work. So a still is
made only when the pause chain is heavier than the realtime chain: models count above any shader chain (a
model step is a network run on the whole frame), then the estimated work of the shaders. A shader's work per
pixel is estimated by the numbers written in its code: a learned shader carries its weights as literals (one
per multiply-add of an output pixel of its layer), so a heavier tier has proportionally more; a hand-written
filter has few. Each step's work is weighted by the area it runs at (a 2x step makes the next one run on four
times the pixels), so two light steps at growing sizes can outweigh one heavy step.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.profiles.loader import Step
from kizunasr_vs.render.source import infer_output_size

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_NOMINAL = (960, 540)  # the size the scale of each step is worked out at (sizes only matter as ratios)


@functools.lru_cache(maxsize=32)
def _shader_facts(path: str, _stamp: tuple[int, int]) -> tuple[int, float]:
    """(numbers in the code, area factor of one run) of a shader file; cached per file version."""
    text = Path(path).read_text(encoding="utf-8")
    constants = len(_NUMBER.findall(_COMMENT.sub("", text)))
    try:
        w, h = infer_output_size(text, *_NOMINAL)
    except vs.Error:  # a size that depends on the display: taken as 1x
        w, h = _NOMINAL
    return constants, (w * h) / (_NOMINAL[0] * _NOMINAL[1])


def shader_work(name: str) -> tuple[int, float]:
    """(estimated work per input pixel, output area over input area) of a profile's shader step."""
    path = shader_path(name)
    stat = path.stat()
    return _shader_facts(os.fspath(path), (stat.st_mtime_ns, stat.st_size))


def chain_work(steps: list[Step]) -> tuple[int, float]:
    """(model steps, shader work per source pixel, each step weighted by the area it runs at).

    FileNotFoundError or vs.Error when a shader cannot be read or parsed."""
    models, work, area = 0, 0.0, 1.0
    for step in steps:
        if "model" in step or "compiled_model" in step:
            models += 1
        elif "shader" in step:
            constants, scale = shader_work(str(step["shader"]))
            work += constants * area
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
    except (OSError, UnicodeDecodeError, vs.Error):
        return None
    return None if heavier else "its pause chain is no heavier than the chain already playing"
