"""Tile planning for running a model over an image in pieces (pure functions, no I/O).

Each tile owns a region of the image; the owned regions partition the image exactly, so the
output has no seams. The model sees the owned region plus up to ``overlap`` pixels of real
context on each side, so with ``overlap`` >= the model's receptive-field radius a tiled run
equals an untiled one (exactly so where no size padding is needed).

Models that need sizes divisible by ``pad_multiple`` or have a fixed input size get crops
grown into real image content first; only where the image itself is too small is the crop
padded (edge replicate, bottom/right) and the output cropped back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """One axis of a tile: the crop fed to the model, its padding, and the part it owns."""

    crop_start: int
    crop_end: int
    pad: int  # replicate padding after crop_end (model input length = crop length + pad)
    own_start: int
    own_end: int

    @property
    def model_len(self) -> int:
        return self.crop_end - self.crop_start + self.pad


@dataclass(frozen=True)
class Tile:
    """A tile: its row span and column span."""

    rows: Span
    cols: Span

    @property
    def model_shape(self) -> tuple[int, int]:
        """The (height, width) the model is run at for this tile."""
        return self.rows.model_len, self.cols.model_len


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _owned_segments(n: int, tile: int | None) -> list[tuple[int, int]]:
    """Split ``[0, n)`` into equal segments of at most ``tile`` (the last may be shorter)."""
    if tile is None or tile >= n:
        return [(0, n)]
    count = -(-n // tile)
    size = -(-n // count)
    return [(i * size, min(n, (i + 1) * size)) for i in range(count) if i * size < n]


def _fit_crop(start: int, end: int, n: int, length: int) -> tuple[int, int, int]:
    """Grow ``[start, end)`` to ``length`` inside ``[0, n)``; return (start, end, pad)."""
    if length >= n:
        return 0, n, length - n
    start = max(0, min(start, n - length))
    return start, start + length, 0


def plan_axis(
    n: int, tile: int | None, overlap: int, pad_multiple: int = 1, fixed: int | None = None
) -> list[Span]:
    """Plan one axis of length ``n``.

    ``tile`` is the owned length per tile (None: one tile, unless ``fixed`` forces tiling);
    ``fixed`` is the model's fixed input length on this axis, if any.
    """
    if n <= 0 or overlap < 0 or pad_multiple < 1:
        raise ValueError(f"bad tiling arguments: n={n}, overlap={overlap}, pad_multiple={pad_multiple}")
    if fixed is not None and n <= fixed:
        tile = None  # one padded crop covers the whole axis
    elif fixed is not None:
        room = fixed - 2 * overlap
        if room <= 0:
            raise ValueError(f"overlap {overlap} leaves no room in the model's fixed size {fixed}")
        if tile is not None and tile > room:
            raise ValueError(f"tile {tile} + 2 x overlap {overlap} exceeds the model's fixed size {fixed}")
        tile = tile or room
    spans = []
    for own_start, own_end in _owned_segments(n, tile):
        start, end = max(0, own_start - overlap), min(n, own_end + overlap)
        length = fixed if fixed is not None else _round_up(end - start, pad_multiple)
        start, end, pad = _fit_crop(start, end, n, length)
        spans.append(Span(start, end, pad, own_start, own_end))
    return spans


def plan_tiles(
    height: int,
    width: int,
    tile: tuple[int, int] | None = None,
    overlap: tuple[int, int] = (0, 0),
    pad_multiple: int = 1,
    fixed: tuple[int | None, int | None] = (None, None),
) -> list[Tile]:
    """Plan tiles over a ``height`` x ``width`` image; ``tile``/``overlap``/``fixed`` are (h, w)."""
    tile_h, tile_w = tile if tile is not None else (None, None)
    rows = plan_axis(height, tile_h, overlap[0], pad_multiple, fixed[0])
    cols = plan_axis(width, tile_w, overlap[1], pad_multiple, fixed[1])
    return [Tile(r, c) for r in rows for c in cols]


def crop_input(image: np.ndarray, tile: Tile) -> np.ndarray:
    """The model input for ``tile`` from a ``[C, H, W]`` image, as ``[1, C, h, w]``."""
    r, c = tile.rows, tile.cols
    crop = image[:, r.crop_start:r.crop_end, c.crop_start:c.crop_end]
    if r.pad or c.pad:
        crop = np.pad(crop, ((0, 0), (0, r.pad), (0, c.pad)), mode="edge")
    return np.ascontiguousarray(crop)[None]


def apply_tiled(
    image: np.ndarray,
    tiles: Sequence[Tile],
    scale: int,
    infer: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Run ``infer`` (``[1, C, h, w]`` -> ``[1, C', h*scale, w*scale]``) tile by tile over a
    ``[C, H, W]`` image and assemble the ``[C', H*scale, W*scale]`` result."""
    out: np.ndarray | None = None
    height, width = image.shape[1:]
    for tile in tiles:
        result = infer(crop_input(image, tile))[0]
        if out is None:
            out = np.empty((result.shape[0], height * scale, width * scale), dtype=result.dtype)
        r, c = tile.rows, tile.cols
        y0, x0 = (r.own_start - r.crop_start) * scale, (c.own_start - c.crop_start) * scale
        h, w = (r.own_end - r.own_start) * scale, (c.own_end - c.own_start) * scale
        out[:, r.own_start * scale:r.own_end * scale, c.own_start * scale:c.own_end * scale] = (
            result[:, y0:y0 + h, x0:x0 + w]
        )
    assert out is not None, "no tiles"
    return out
