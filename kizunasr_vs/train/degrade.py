"""Degradations that turn a high-resolution RGB patch into the low-resolution input a 2x network sees.

Used on the fly in training (random, ``random_degrade``); the luma of both images is what the network learns
on. Everything is PIL and numpy: no torch, so data-loader workers stay light.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from kizunasr_vs.core.errors import InputError

LUMA_709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
# PIL resampling filters a source may have been downscaled with (all antialiased in PIL), by name.
DOWNSCALE_FILTERS = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR,
                     "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
                     "hamming": Image.Resampling.HAMMING}
ALL_FILTERS = tuple(DOWNSCALE_FILTERS)


def checked_filters(filters: Sequence[str], what: str) -> tuple[str, ...]:
    """``filters`` as a tuple, or an InputError naming ``what`` asked for them, the unknown names and the choices."""
    unknown = sorted(set(filters) - set(DOWNSCALE_FILTERS))
    if not filters or unknown:
        raise InputError(f"{what}: unknown reduction(s) {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(ALL_FILTERS)}")
    return tuple(filters)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.709 luma of an H x W x 3 array in [0, 1] (uint8 input is scaled from 0..255)."""
    x = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    return x @ LUMA_709


@dataclass(frozen=True)
class Degradation:
    """One draw of the random degradation: downscale filter, pre-blur sigma, JPEG quality (None: clean)."""

    resample: Image.Resampling
    blur: float
    jpeg_quality: int | None


def draw_degradation(rng: np.random.Generator, p_blur: float = 0.1, p_jpeg: float = 0.2,
                     filters: Sequence[str] = ALL_FILTERS) -> Degradation:
    """A random degradation: one of ``filters`` (names of DOWNSCALE_FILTERS) for the reduction; mild blur with
    ``p_blur``; JPEG 4:2:0 q 50-95 with ``p_jpeg``.

    Mostly clean: a network shown many blurred or blocky inputs learns to sharpen or smooth every input, and loses
    to lanczos on clean ones (docs/BENCHMARKS.md, learned shaders, has the measurement)."""
    resample = DOWNSCALE_FILTERS[filters[int(rng.integers(len(filters)))]]
    blur = float(rng.uniform(0.2, 0.5)) if rng.random() < p_blur else 0.0
    quality = int(rng.integers(50, 96)) if rng.random() < p_jpeg else None
    return Degradation(resample, blur, quality)


def degrade(hr: Image.Image, d: Degradation) -> Image.Image:
    """``hr`` (RGB, even size) blurred, downscaled 2x and compressed as ``d`` says; an 8-bit RGB image."""
    img = hr.filter(ImageFilter.GaussianBlur(d.blur)) if d.blur > 0 else hr
    lr = img.resize((hr.width // 2, hr.height // 2), d.resample)
    if d.jpeg_quality is not None:
        buf = io.BytesIO()
        lr.save(buf, format="JPEG", quality=d.jpeg_quality, subsampling=2)  # 4:2:0, like video
        buf.seek(0)
        lr = Image.open(buf).convert("RGB")
    return lr


def luma_pair(hr: Image.Image, rng: np.random.Generator, p_blur: float = 0.1, p_jpeg: float = 0.2,
              filters: Sequence[str] = ALL_FILTERS) -> tuple[np.ndarray, np.ndarray]:
    """(LR luma, HR luma) float32 arrays in [0, 1] for one random degradation of ``hr``."""
    lr = degrade(hr, draw_degradation(rng, p_blur, p_jpeg, filters))
    return luma(np.asarray(lr)), luma(np.asarray(hr))


def add_grain(hr: Image.Image, rng: np.random.Generator) -> Image.Image:
    """``hr`` with film grain, and half the time TV scanlines, in the picture itself (so the target has them too).

    Grain: grey Gaussian noise of sigma 1.5-6 code values, softened to 1-2 pixel grains half the time.
    Scanlines: every other row darkened by 3-12%, starting at row 0 or 1. A network that never saw such frames
    takes the grain for detail and sharpens it; shown them, it learns to leave them as a smooth upscale would.
    """
    x = np.asarray(hr, np.float32)
    noise = rng.normal(0.0, rng.uniform(1.5, 6.0), x.shape[:2]).astype(np.float32)
    if rng.random() < 0.5:
        noise = _gaussian_blur(noise, float(rng.uniform(0.5, 1.0))) * np.float32(1.8)  # keep its strength
    x = x + noise[..., None]
    if rng.random() < 0.5:
        start = int(rng.integers(2))
        x[start::2] *= 1.0 - rng.uniform(0.03, 0.12)
    return Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))


def _gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """A 2-D array blurred by a separable Gaussian of ``sigma`` (radius 2, edges repeated)."""
    taps = np.exp(-0.5 * (np.arange(-2, 3) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(x, 2, mode="edge")
    rows = sum(t * padded[:, i:i + x.shape[1]] for i, t in enumerate(taps))
    return np.asarray(sum(t * rows[i:i + x.shape[0]] for i, t in enumerate(taps)), np.float32)
