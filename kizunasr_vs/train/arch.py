"""The networks: luma in, luma at 2x out, built only from ops the GLSL compiler handles.

``h = [conv3x3 PReLU] x (1 + body) (x);  y = depth-to-space(conv3x3([h, x] -> 4) + x)``; a ``dense`` tier adds
``conv1x1([h_1 .. h_body] -> 4)`` (every earlier hidden layer) to the tail's output.

All convolutions run at the input resolution. The last one sees the features and the input itself, and predicts
for each input pixel the four output pixels' offsets from it (adding ``x`` to each of the four is a
nearest-neighbour skip); its weights on ``x`` start as bicubic interpolation, so a fresh network is a bicubic
upscaler and the hidden layers only learn what bicubic misses. Depth-to-space lays the four out at 2x. Each
stored feature map is one packed compute pass in the compiled shader. Convolutions pad by repeating the edge
pixels (``replicate``; ONNX ``Pad`` in ``edge`` mode), as a texture read clamped to the edge does: zero
padding would darken or brighten the outermost pixels of every frame.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from kizunasr_vs.train.tiers import TIERS, Tier, tier_of

__all__ = ["TIERS", "LumaNet", "Tier", "bicubic_offsets", "build", "tier_of"]


class LumaNet(nn.Module):
    """The 2x luma network of a tier."""

    def __init__(self, tier: Tier) -> None:
        super().__init__()
        f = tier.features
        self.tier = tier
        self.convs = nn.ModuleList([_conv(1, f)] + [_conv(f, f) for _ in range(tier.body)])
        self.acts = nn.ModuleList([nn.PReLU(f, init=0.1) for _ in self.convs])
        self.tail = _conv(f + 1, 4)
        # dense: a 1x1 convolution over every earlier hidden layer joins the tail (cheap, and every scale of
        # context reaches the output)
        self.mix = nn.Conv2d(f * tier.body, 4, 1) if tier.dense and tier.body else None
        with torch.no_grad():
            self.tail.weight.mul_(0.1)
            self.tail.weight[:, f] = torch.from_numpy(bicubic_offsets())
            if self.tail.bias is not None:
                self.tail.bias.zero_()
            if self.mix is not None:  # starts silent: a fresh dense network is the plain one
                self.mix.weight.zero_()
                if self.mix.bias is not None:
                    self.mix.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        hidden = []
        for conv, act in zip(self.convs, self.acts, strict=True):
            h = act(conv(h))
            hidden.append(h)
        y = self.tail(torch.cat([h, x], 1))
        if self.mix is not None:
            y = y + self.mix(torch.cat(hidden[:-1], 1))
        return functional.pixel_shuffle(y + x, 2)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="replicate")


def bicubic_offsets() -> np.ndarray:
    """4 x 3 x 3 kernels: each 2x output sub-pixel (row-major in its 2 x 2 cell, depth-to-space order) by
    Catmull-Rom interpolation of the 3 x 3 neighbourhood, minus the centre pixel (the nearest skip adds it)."""
    # Output sub-pixels sit at -1/4 and +1/4 of an input pixel; cubic (a = -0.5) weights for taps at -1, 0, 1
    # (the tap at +-2 is dropped and its weight folded into the nearest tap so each kernel sums to 1).
    def taps(t: float) -> np.ndarray:
        def w(d: float) -> float:
            d = abs(d)
            return 1.5 * d**3 - 2.5 * d**2 + 1 if d <= 1 else -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2
        k = np.array([w(t + 1), w(t), w(t - 1)])
        return k / k.sum()

    near, far = taps(-0.25), taps(0.25)  # sub-pixel left/top of centre, right/bottom of centre
    out = np.zeros((4, 3, 3), np.float32)
    for i, (ky, kx) in enumerate([(near, near), (near, far), (far, near), (far, far)]):
        out[i] = np.outer(ky, kx)
        out[i, 1, 1] -= 1.0
    return out


def build(tier: str | Tier) -> LumaNet:
    """A fresh network of tier ``tier`` (a name or shape as ``tier_of`` takes, or a :class:`Tier`)."""
    return LumaNet(tier_of(tier) if isinstance(tier, str) else tier)
