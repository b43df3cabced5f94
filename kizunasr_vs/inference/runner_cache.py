"""The cache of built runners, keyed by (model sha256, resolved backend, tile plan).

Sessions and torch modules take seconds to build and the mpv worker builds a graph per paused frame, so runners
are kept and reused: the most recently used ones, at most ``KEPT[kind]`` of each kind (a torch runner holds a
model, activations and pinned frames per stream on the GPU, so fewer of those stay). The oldest of a kind goes
before a new one of that kind is built, which frees its sessions or GPU memory first.

``kizunasr_vs.onnx(runners=...)`` takes a cache; without one it uses the process's (``shared()``). A caller that
wants its sessions gone when it is done (a benchmark between measurements) passes its own and ``release()``s it.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast

from kizunasr_vs.core import hardware
from kizunasr_vs.inference.torch_backend import TORCH
from kizunasr_vs.inference.yuv_io import YuvLayout

ONNXRUNTIME = "onnxruntime"  # the kinds: onnxruntime sessions, or TORCH
KEPT = {ONNXRUNTIME: 4, TORCH: 2}  # runners kept per kind

ANY_SIZE = ("whole frame", "any size")  # the plan of a direct runner: its per-plane graph takes any frame size


def frame_plan(height: int, width: int) -> tuple[object, ...]:
    """The plan of a runner built for whole frames of one size (the torch backend)."""
    return ("whole frame", height, width)


def tiles_plan(probe: tuple[int, int], trt_profile: tuple[str, str, str] | None) -> tuple[object, ...]:
    """The plan of a tiled runner as far as its sessions depend on it: the scale probe's shape and, on TensorRT,
    the optimisation profile of the tiles' model shapes (the tiles themselves are bound per call)."""
    return ("tiles", probe, trt_profile)


@dataclass(frozen=True)
class BackendKey:
    """The resolved backend a runner is built for: onnxruntime's providers in order (or ``(TORCH,)``), fp16,
    stream count, the YUV layout of the planes (yuv_io) and, for torch, torch.compile and CUDA graphs."""

    providers: tuple[str, ...]
    fp16: bool
    streams: int
    layout: YuvLayout | None = None
    compiled: bool = False
    graphs: bool = False

    @property
    def kind(self) -> str:
        return TORCH if self.providers == (TORCH,) else ONNXRUNTIME


class RunnerKey(NamedTuple):
    """What a built runner depends on."""

    sha256: str
    backend: BackendKey
    plan: tuple[object, ...]  # ANY_SIZE, frame_plan(...) or tiles_plan(...)


R = TypeVar("R")


class RunnerCache:
    """The most recently used runners, at most ``KEPT[kind]`` of each kind (see the module docstring)."""

    def __init__(self) -> None:
        self._runners: OrderedDict[RunnerKey, Any] = OrderedDict()
        self._lock = threading.Lock()  # held while building: two threads never create the same sessions twice
        self.builds = 0  # runners built so far (a reused one is not built again)

    def __len__(self) -> int:
        return len(self._runners)

    def runners(self) -> list[Any]:
        """The kept runners, least recently used first."""
        with self._lock:
            return list(self._runners.values())

    def get_or_build(self, key: RunnerKey, build: Callable[[], R]) -> R:
        """The runner kept for ``key``, else ``build()``'s (after the oldest of its kind went, where full)."""
        with self._lock:
            if key in self._runners:
                self._runners.move_to_end(key)
                return cast(R, self._runners[key])
            kind = key.backend.kind
            same = [k for k in self._runners if k.backend.kind == kind]
            while len(same) >= KEPT[kind]:
                del self._runners[same.pop(0)]
            self._runners[key] = runner = build()
            self.builds += 1
            return runner

    def clear(self) -> None:
        """Drop every runner (their memory goes once nothing else holds them)."""
        with self._lock:
            self._runners.clear()

    def release(self) -> None:
        """``clear()``, then give the memory back now: collect the dropped runners and, where torch is loaded,
        return its cached GPU memory to the driver (so that the next measurement has the GPU to itself)."""
        self.clear()
        free_memory()


def free_memory() -> None:
    """Collect what was dropped and, where torch is loaded, return its cached GPU memory to the driver."""
    gc.collect()
    if "torch" in sys.modules and hardware.torch_cuda_available():  # (never the one to import torch)
        sys.modules["torch"].cuda.empty_cache()


_SHARED = RunnerCache()


def shared() -> RunnerCache:
    """The process's cache, used by every ``kizunasr_vs.onnx`` call that passes none (so the mpv worker's graph
    per pause finds its model warm)."""
    return _SHARED
