"""Procedurally drawn cel-style pictures: flat colour regions with shadow tones, gradients and dark outlines.

Anime frames are mostly this: flat fills, hard shadow shapes and anti-aliased line art of varying width.
Pictures are drawn at 4x and reduced with a box filter, so edges carry the anti-aliasing a real render has; the
``crisp`` kind is drawn at 1x instead: 1-2 pixel dark lines with hard edges over light fills.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour of the kind anime palettes use: mostly mid-to-light, moderately saturated."""
    base = rng.uniform(0.25, 1.0, 3)
    grey = base.mean()
    sat = rng.uniform(0.2, 0.9)
    c = grey + (base - grey) * sat * 1.6
    return tuple(int(v) for v in np.clip(c * 255, 0, 255))  # type: ignore[return-value]


def _shade(c: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v * factor, 0, 255)) for v in c)  # type: ignore[return-value]


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float, points: int) -> list[tuple[float, float]]:
    """A smooth random closed outline around (cx, cy)."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = r * rng.uniform(0.55, 1.0, points)
    return [(cx + rr * np.cos(a), cy + rr * np.sin(a)) for a, rr in zip(angles, radii, strict=True)]


def _stroke(rng: np.random.Generator, size: int) -> list[tuple[float, float]]:
    """A curved open stroke (a hair line, a fold) as a polyline along a quadratic Bezier."""
    p0, p1, p2 = rng.uniform(0, size, (3, 2))
    t = np.linspace(0, 1, 24)[:, None]
    pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    return [tuple(p) for p in pts]


def draw(size: int, rng: np.random.Generator, crisp: bool = False) -> Image.Image:
    """One size x size RGB picture; ``crisp``: light flat fills with 1-2 pixel dark lines drawn without
    anti-aliasing (a close-up of clean line art at its native resolution)."""
    if crisp:
        return _crisp(size, rng)
    big = size * SUPERSAMPLE
    top, bottom = np.array(_colour(rng)), np.array(_colour(rng))
    ramp = np.linspace(0, 1, big)[:, None, None]
    sky = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    img = Image.fromarray(np.broadcast_to(sky, (big, big, 3)).copy())
    pen = ImageDraw.Draw(img)
    line = _shade(_colour(rng), rng.uniform(0.05, 0.35))
    for _ in range(int(rng.integers(4, 12))):
        fill = _colour(rng)
        cx, cy = rng.uniform(0, big, 2)
        r = rng.uniform(0.08, 0.45) * big
        width = int(rng.integers(1, 4) * SUPERSAMPLE * rng.uniform(0.4, 1.0)) + 1
        shape = _blob(rng, cx, cy, r, int(rng.integers(5, 14)))
        if rng.random() < 0.35:
            pen.ellipse([cx - r, cy - r * rng.uniform(0.4, 1), cx + r, cy + r], fill=fill, outline=line, width=width)
        else:
            pen.polygon(shape, fill=fill, outline=line, width=width)
        if rng.random() < 0.6:  # a hard cel shadow inside the shape
            dx, dy = rng.uniform(-0.3, 0.3, 2) * r
            shadow = [(x + dx, y + dy) for x, y in _blob(rng, cx, cy, r * 0.6, 7)]
            pen.polygon(shadow, fill=_shade(fill, rng.uniform(0.6, 0.85)))
        if rng.random() < 0.3:  # a highlight
            hx, hy = cx + rng.uniform(-0.4, 0.4) * r, cy + rng.uniform(-0.4, 0.4) * r
            hr = r * rng.uniform(0.05, 0.15)
            pen.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=_shade(fill, 1.35))
    for _ in range(int(rng.integers(3, 16))):
        width = max(1, int(rng.uniform(0.4, 2.5) * SUPERSAMPLE))
        pen.line(_stroke(rng, big), fill=line, width=width, joint="curve")
    return img.resize((size, size), Image.Resampling.BOX)


def _crisp(size: int, rng: np.random.Generator) -> Image.Image:
    """Light flat fills and pixel-sharp dark outlines and strokes, drawn at the picture's own resolution."""
    paper = _shade(_colour(rng), rng.uniform(1.0, 1.4))
    img = Image.new("RGB", (size, size), paper)
    pen = ImageDraw.Draw(img)
    line = _shade(_colour(rng), rng.uniform(0.0, 0.2))
    for _ in range(int(rng.integers(3, 9))):
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(0.1, 0.5) * size
        fill = _shade(_colour(rng), rng.uniform(1.0, 1.3))
        width = 1 if rng.random() < 0.7 else 2
        pen.polygon(_blob(rng, cx, cy, r, int(rng.integers(5, 14))), fill=fill, outline=line, width=width)
    for _ in range(int(rng.integers(4, 20))):
        pen.line(_stroke(rng, size), fill=line, width=1 if rng.random() < 0.8 else 2)
    return img
