"""The learned shaders' network sizes, without PyTorch (the CLI checks ``--tier`` before importing it).

A tier is the shape of :class:`~kizunasr_vs.train.arch.LumaNet`: ``features`` channels in every hidden layer,
``body`` hidden F->F 3x3 convolutions after the first one, and whether the tail mixes every hidden layer
(``dense``) or only the last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kizunasr_vs.core.errors import InputError


@dataclass(frozen=True)
class Tier:
    """A network size: ``features`` channels in every hidden layer, ``body`` hidden F->F convolutions."""

    name: str
    features: int
    body: int
    dense: bool = False  # the tail also mixes every earlier hidden layer (a 1x1 convolution over all of them)
    crelu: bool = False  # activations are CReLU: [relu(x), relu(-x)], so each convolution reads 2F channels


# The shipped ladder (glsl/kizuna_cnn_x2_<name>.glsl), each matched to a peer's cost on lavapipe: s to Anime4K
# x2 S, m to Anime4K x2 M, l to CuNNy fast, vl to Anime4K x2 VL, ul to ArtCNN C4F16 (docs/BENCHMARKS.md).
TIERS: dict[str, Tier] = {
    "s": Tier("s", features=4, body=3, dense=True, crelu=True),
    "m": Tier("m", features=8, body=3, dense=True, crelu=True),
    "l": Tier("l", features=12, body=3, dense=True, crelu=True),
    "vl": Tier("vl", features=20, body=6),
    "ul": Tier("ul", features=32, body=6),
}


def tier_of(spec: str) -> Tier:
    """A tier by name (``TIERS``) or by shape, ``FxB``: F features, B hidden F->F convolutions (``8x3``)."""
    if spec in TIERS:
        return TIERS[spec]
    shape = re.fullmatch(r"(\d+)x(\d+)(c?)(d?)", spec)
    if shape is None or not 1 <= int(shape[1]) <= 64 or not 0 <= int(shape[2]) <= 16:
        raise InputError(f"unknown tier {spec!r}: choose one of {', '.join(TIERS)}, or a shape FxB "
                         "(features 1-64 x hidden convolutions 0-16, e.g. 8x3; then c: CReLU activations, d: the "
                         "tail mixes every layer)")
    return Tier(spec, int(shape[1]), int(shape[2]), dense=shape[4] == "d", crelu=shape[3] == "c")


def multiply_adds(tier: Tier) -> int:
    """Multiply-adds per source pixel of the tier's 3x3 convolutions."""
    f, width = tier.features, tier.features * (2 if tier.crelu else 1)  # width: channels a convolution reads
    return 9 * (f + tier.body * width * f + (width + 1) * 4) + (4 * tier.body * width if tier.dense else 0)
