"""Memory an encode chain needs on the CPU, estimated before any frame is made, so that a large source (8K) runs
its models in tiles, or is refused with how much it needs, rather than meeting the kernel's out-of-memory killer.

The estimate counts, for the frames in flight (one per VapourSynth thread, at least two), every step's frames as
the filters hold them (float RGB around a model, 16-bit 4:4:4 around a shader, the 10-bit 4:2:0 output), and for a
model run on the CPU its activations: ``LIVE_TENSORS`` float32 tensors of its widest convolution over the pixels
it is run on (the frame, or a tile and its overlap). Measured peaks of the AnimeJaNai Compact, SuperUltraCompact
and SPAN models on onnxruntime's CPU provider lie below it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.profiles.chain import Size, model_scale, resolve_model, step_size
from kizunasr_vs.profiles.loader import Step

LIVE_TENSORS = 4  # activations alive at once: a convolution's input and output, a skip connection, slack
FRAMES_IN_FLIGHT = 2  # at least: the frame a model works on and the one ffmpeg is given
OVERLAP = 16  # the onnx filter's default context around a tile (inference/onnx_filter.py)
TILES = (1024, 768, 512, 384, 256, 192, 128)  # tile sizes tried, largest first
GIB = 1 << 30


class NotEnoughMemory(KizunaError, ValueError):
    """A chain that needs more memory than there is, even with its models in the smallest tiles."""


@dataclass(frozen=True)
class Fitted:
    """The steps to run (model steps with a tile where one was needed), the estimate and the tile chosen."""

    steps: list[Step]
    needed: int
    tile: int | None


@functools.cache
def widest_convolution(model: Path) -> int:
    """The most output channels of any convolution of ``model`` (its widest activation), read from the ONNX graph
    without loading it into a session; 64 when it cannot be read."""
    import onnx

    try:
        graph = onnx.load(str(model), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - a model onnxruntime cannot read fails later, with its own message
        return 64
    weights = {init.name: init.dims for init in graph.initializer}
    widths = [weights[node.input[1]][0] for node in graph.node
              if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1 and node.input[1] in weights]
    return max(widths, default=64)


def estimate(steps: Sequence[Step], size: Size, cpu: bool, tile: int | None = None) -> int:
    """Bytes the chain ``steps`` needs on a ``size`` (width, height) source, model steps run on the CPU when
    ``cpu``, in tiles of ``tile`` pixels (None: whole frames)."""
    frames = 0
    activations = 0
    width, height = size
    for step in steps:
        step_tile = step.get("tile", tile)
        after = step_size(step, (width, height))
        if after is None:  # an unregistered model: counted as 2x
            after = (width * 2, height * 2)
        if "model" in step:
            frames += 12 * (width * height + after[0] * after[1])  # float RGB in and out
            if cpu:
                run = (min(width, (step_tile or width) + 2 * OVERLAP)
                       * min(height, (step_tile or height) + 2 * OVERLAP))
                channels = widest_convolution(resolve_model(step["model"]))
                activations = max(activations, run * (LIVE_TENSORS * channels * 4 + 12 * (model_scale(
                    step["model"]) or 2) ** 2))
        else:
            frames += 6 * (width * height + after[0] * after[1])  # 16-bit 4:4:4 around a shader or a resize
        width, height = after
    frames += 3 * width * height  # the 10-bit 4:2:0 frame ffmpeg gets
    return frames_in_flight() * frames + activations


def frames_in_flight() -> int:
    """Frames the encode keeps in flight: VapourSynth's output prefetches one per worker thread."""
    import vapoursynth as vs

    return max(FRAMES_IN_FLIGHT, vs.core.num_threads)


def fit(steps: list[Step], size: Size, cpu: bool, available: int) -> Fitted:
    """``steps`` as they fit in ``available`` bytes: unchanged when they fit, else with every model step that has no
    tile of its own in the largest tile of TILES that fits; ``Fitted.tile`` None and ``needed`` > ``available``
    when nothing fits."""
    needed = estimate(steps, size, cpu)
    if needed <= available or not cpu or not any("model" in s and "tile" not in s for s in steps):
        return Fitted(steps, needed, None)
    for tile in TILES:
        tiled = estimate(steps, size, cpu, tile)
        if tiled <= available:
            return Fitted([{**s, "tile": tile} if "model" in s and "tile" not in s else s for s in steps], tiled,
                          tile)
    return Fitted(steps, estimate(steps, size, cpu, TILES[-1]), None)


def amount(size: int) -> str:
    """Bytes for people: "66 MiB", "4.5 GiB"."""
    return f"{size / GIB:.1f} GiB" if size >= GIB else f"{max(size, 0) / (1 << 20):.0f} MiB"


def available_memory() -> int | None:
    """Bytes this process can still take: the kernel's MemAvailable, less where a cgroup limit (a container) is
    closer; None where neither can be read."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            found.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    return min(found) if found else None
