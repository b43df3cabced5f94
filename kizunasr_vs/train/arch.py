"""The networks: luma in, luma at 2x out, built only from ops the GLSL compiler handles.

``x -> conv3x3(1->F) PReLU -> [conv3x3(F->F) PReLU] x body -> conv3x3(F->4) + x -> depth-to-space(2)``

All convolutions run at the input resolution; the last one predicts, for each input pixel, the four output
pixels' offsets from it (adding ``x`` to each of the four is a nearest-neighbour skip), and depth-to-space lays
them out at 2x. Each stored feature map is one packed compute pass in the compiled shader.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional


@dataclass(frozen=True)
class Tier:
    """A network size: ``features`` channels in every hidden layer, ``body`` hidden F->F convolutions."""

    name: str
    features: int
    body: int


TIERS = {
    "s": Tier("s", features=8, body=2),
    "m": Tier("m", features=12, body=4),
    "l": Tier("l", features=16, body=6),
}


class LumaNet(nn.Module):
    """The 2x luma network of a tier."""

    def __init__(self, tier: Tier) -> None:
        super().__init__()
        f = tier.features
        self.tier = tier
        self.convs = nn.ModuleList([nn.Conv2d(1, f, 3, padding=1)]
                                   + [nn.Conv2d(f, f, 3, padding=1) for _ in range(tier.body)])
        self.acts = nn.ModuleList([nn.PReLU(f, init=0.1) for _ in self.convs])
        self.tail = nn.Conv2d(f, 4, 3, padding=1)
        with torch.no_grad():  # start near the nearest-neighbour upscale
            self.tail.weight.mul_(0.1)
            if self.tail.bias is not None:
                self.tail.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv, act in zip(self.convs, self.acts, strict=True):
            h = act(conv(h))
        return functional.pixel_shuffle(self.tail(h) + x, 2)


def build(tier: str | Tier) -> LumaNet:
    """A fresh network of tier ``tier`` ("s", "m", "l" or a :class:`Tier`)."""
    if isinstance(tier, str):
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}: choose one of {', '.join(TIERS)}")
        tier = TIERS[tier]
    return LumaNet(tier)
