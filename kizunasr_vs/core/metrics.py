"""Image quality metrics on [0, 1] arrays: PSNR and SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5,
K1 = 0.01, K2 = 0.03). ``border`` pixels are cropped on every side first (edge handling differs between
upscalers and says nothing about their quality)."""

from __future__ import annotations

import numpy as np


def _crop(a: np.ndarray, border: int) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a[border:-border, border:-border] if border else a


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0, peak: float = 1.0) -> float:
    """PSNR in dB of two images of the same shape; inf when they are equal."""
    a, b = _crop(a, border), _crop(b, border)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak * peak / mse))


def _gauss_valid(img: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """Separable Gaussian filter, 'valid' part only."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    rows = sum(k[i] * img[:, i:img.shape[1] - 2 * radius + i] for i in range(k.size))
    return sum(k[i] * rows[i:rows.shape[0] - 2 * radius + i, :] for i in range(k.size))


def ssim(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """Mean SSIM of two single-channel images in [0, 1]."""
    a, b = _crop(a, border), _crop(b, border)
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ: {a.shape} vs {b.shape}")
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = _gauss_valid(a), _gauss_valid(b)
    saa = _gauss_valid(a * a) - mu_a**2
    sbb = _gauss_valid(b * b) - mu_b**2
    sab = _gauss_valid(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
    return float(np.mean(num / den))
