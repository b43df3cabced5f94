"""What the ONNX filter runs a frame with: the ``FrameRunner`` protocol and the two onnxruntime runners.

Every runner (``TiledRunner``, ``DirectRunner`` here and the torch backend's ``TorchRunner``) takes a source
frame and writes the output frame's planes; the filter's one ModifyFrame callback only raises when the model's
output was not finite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import vapoursynth as vs

from kizunasr_vs.inference.ort_session import ModelInfo, SessionPool, run_session
from kizunasr_vs.inference.plane_io import bound_planes
from kizunasr_vs.inference.precision import precision_name
from kizunasr_vs.inference.tiling import Tile, apply_tiled
from kizunasr_vs.inference.yuv_io import YuvLayout


class FrameRunner(Protocol):
    """A model ready to run frames: its integer ``scale``, the precision the network runs in ("fp32", "fp16",
    "bf16") and how many frames may run at once."""

    scale: int

    @property
    def precision(self) -> str:
        """The float precision of the network's weights and activations."""
        ...

    @property
    def branches(self) -> int:
        """Frames that may run concurrently (sessions in the pool, or torch streams)."""
        ...

    def run_frame(self, src: vs.VideoFrame, out: vs.VideoFrame) -> bool:
        """Run the model on ``src`` and write ``out``'s planes; False when the model's output was not finite."""
        ...


@dataclass
class TiledRunner:
    """A model run tile by tile on stacked float planes: its facts, integer scale, session pool, tiles and the
    precision its sessions run in."""

    info: ModelInfo
    scale: int
    pool: SessionPool
    tiles: tuple[Tile, ...] = ()
    precision: str = "fp32"

    @property
    def branches(self) -> int:
        return self.pool.size

    def with_tiles(self, tiles: Sequence[Tile]) -> TiledRunner:
        """This runner (the same sessions) for another frame's tiles."""
        return dataclasses.replace(self, tiles=tuple(tiles))

    def infer(self, x: np.ndarray) -> np.ndarray:
        """``[1, C, h, w]`` float32 in, ``[1, C, h*s, w*s]`` float32 out."""
        with self.pool.borrow() as session:
            return run_session(session, self.info, x)

    def run_frame(self, src: vs.VideoFrame, out: vs.VideoFrame) -> bool:
        image = np.stack([np.asarray(src[p]) for p in range(src.format.num_planes)])
        result = apply_tiled(image, self.tiles, self.scale, self.infer)
        if not np.isfinite(result).all():
            return False
        for p in range(out.format.num_planes):
            np.copyto(np.asarray(out[p]), result[p])
        return True


@dataclass
class DirectRunner:
    """A whole-frame model whose per-plane I/O is bound straight to frame memory (see plane_io):
    float planes of the model's channels, or the clip's integer YUV planes (``layout``, see yuv_io)."""

    info: ModelInfo
    scale: int
    pool: SessionPool
    io_dtype: np.dtype[Any]
    inputs: list[str]
    outputs: list[str]
    layout: YuvLayout | None = None

    @property
    def branches(self) -> int:
        return self.pool.size

    @property
    def precision(self) -> str:
        """The session graph's precision: its planes' type (fp16 where the model is or was converted)."""
        return precision_name(self.io_dtype)

    def run_frame(self, src: vs.VideoFrame, out: vs.VideoFrame) -> bool:
        """The model reads ``src``'s planes and writes ``out``'s; the finite check is one scalar of the graph."""
        probe = np.zeros((), np.float32)
        with self.pool.borrow() as session, \
                bound_planes(session, self.inputs, self.outputs, src, out, probe) as binding:
            session.run_with_iobinding(binding)
        return bool(np.isfinite(probe))
