"""How `kizunasr bench` times things: frames pulled from a clip, calls of a function, and the onnx filter on noise
frames (with the precision its runner ran in)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import vapoursynth as vs

from kizunasr_vs.cli.bench_clips import noise_clip

if TYPE_CHECKING:
    from kizunasr_vs.inference.backends import Backend

WARM_FRAMES = 24  # untimed first frames: every branch runs a few times (cuDNN algorithm search, lazy init) first


def time_clip(clip: vs.VideoNode, rounds: int = 1) -> float:
    """fps of pulling the frames of ``clip`` after the first WARM_FRAMES, with VapourSynth's parallel requests;
    the best of ``rounds`` passes (later passes find every lazy initialisation done)."""
    for _ in clip[:WARM_FRAMES].frames(close=True):
        pass
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        count = sum(1 for _ in clip[WARM_FRAMES:].frames(close=True))
        best = max(best, count / (time.perf_counter() - start))
    return best


def time_calls(call: Callable[[], object], frames: int, rounds: int = 1, warm: int = 1) -> float:
    """Calls per second of ``call``, ``frames`` calls in a row after ``warm`` untimed ones; the best of
    ``rounds``."""
    for _ in range(warm):
        call()
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(frames):
            call()
        best = max(best, frames / (time.perf_counter() - start))
    return best


@dataclass(frozen=True)
class FilterTiming:
    """fps of the onnx filter and the precision its runner ran the network in ("fp32", "fp16", "bf16")."""

    fps: float
    precision: str


def time_onnx_filter(model: Path, backend: str | Backend, width: int, height: int, frames: int, *, yuv: bool,
                     yuv_io: bool | None = None, streams: int | None = None, rounds: int = 1) -> FilterTiming:
    """``kizunasr_vs.onnx`` on noise frames: RGBS, or with ``yuv`` YUV420P8 in and YUV420P10 out (an encode's
    formats; ``yuv_io`` as the filter takes it). The measurement has its own runner cache, released after it, so
    that the next one has the memory to itself."""
    from kizunasr_vs.inference.onnx_filter import onnx
    from kizunasr_vs.inference.runner_cache import RunnerCache

    runners = RunnerCache()
    length = frames + WARM_FRAMES
    if yuv:
        clip = onnx(noise_clip(width, height, length, vs.YUV420P8), str(model), backend=backend, streams=streams,
                    yuv_io=yuv_io, output_format=vs.YUV420P10, runners=runners)
    else:
        clip = onnx(noise_clip(width, height, length, vs.RGBS), str(model), backend=backend, streams=streams,
                    yuv_io=False, runners=runners)
    fps = time_clip(clip, rounds)
    precision = "/".join(sorted({runner.precision for runner in runners.runners()}))
    del clip
    runners.release()
    return FilterTiming(fps, precision)
