#!/usr/bin/env python3
"""PSNR / SSIM fidelity report for KizunaSR's GLSL 2x chain against zimg kernels.

Each reference image is taken as the ground truth (HR), downscaled 2x (the provided
``anime4k_bird_LR.png`` for the bird, zimg Bicubic b=1/3 c=1/3 for the others), then upscaled 2x
by every method in the same run:

* ``bilinear``, ``bicubic`` (zimg b=0 c=0.5, Catmull-Rom), ``lanczos`` (zimg, 3 taps), ``spline36``
* ``pl_ewa_lanczos``: vs-placebo's own upscaler (its default ``ewa_lanczos``, sigmoidized) via
  ``glsl/kizuna_passthrough.glsl`` rendered at 2x, and ``pl_ewa+antiring``: the same with
  ``glsl/kizuna_antiring.glsl`` (POSTKERNEL clamp)
* ``edge2x``: ``glsl/kizuna_edge2x.glsl`` alone
* ``chain``: ``kizuna_edge2x`` -> ``kizuna_antiring2x`` -> ``kizuna_cas`` (the performance chain)

The shaders run through vs-placebo (``kizunasr_vs.shader`` when available, else
``core.placebo.Shader`` directly; Mesa lavapipe works). Metrics are computed on BT.709 luma in
[0, 1] with a 4-pixel border cropped (edge handling differs between implementations); SSIM is the
usual 11x11 Gaussian (sigma 1.5) window with K1 = 0.01, K2 = 0.03.

Usage::

    python bench/glsl_fidelity.py [--media DIR] [IMAGE ...]

Prints a table; no timings (lavapipe timings say nothing about a GPU).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vapoursynth as vs
from common import MEDIA, REPO, load_rgb, rgb_clip

from kizunasr_vs.core import metrics

GLSL = REPO / "glsl"
DEFAULT_MEDIA = MEDIA
DEFAULT_IMAGES = ("anime4k_bird_HR.png", "realesrgan_0014.jpg", "realesrgan_0030.jpg")
CHAIN = ("kizuna_edge2x.glsl", "kizuna_antiring2x.glsl", "kizuna_cas.glsl")
LUMA_709 = np.array([0.2126, 0.7152, 0.0722])

core = vs.core


# ---------------------------------------------------------------------------------------------
# Images and clips


def yuv444_clip(rgb: np.ndarray) -> vs.VideoNode:
    """``rgb`` as YUV444P16, full range, BT.709 (the format vs-placebo renders)."""
    clip = core.resize.Point(rgb_clip(rgb), format=vs.YUV444P16, matrix=1, range=1)
    return core.std.SetFrameProps(clip, _Matrix=1, _Range=1, _ChromaLocation=0)


def luma_of(clip: vs.VideoNode) -> np.ndarray:
    """Frame 0's first plane (Y) as float64 in [0, 1] (integer formats are full range here)."""
    frame = clip.get_frame(0)
    y = np.asarray(frame[0]).astype(np.float64)
    if frame.format.sample_type == vs.INTEGER:
        y /= (1 << frame.format.bits_per_sample) - 1
    return y


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float64) @ LUMA_709


def downscale2x(rgb: np.ndarray) -> np.ndarray:
    """Downscale by 2 with zimg Bicubic (Mitchell-Netravali b=1/3, c=1/3) in RGB."""
    h, w, _ = rgb.shape
    small = core.resize.Bicubic(rgb_clip(rgb), w // 2, h // 2, filter_param_a=1 / 3, filter_param_b=1 / 3)
    frame = small.get_frame(0)
    return np.stack([np.asarray(frame[i]) for i in range(3)], axis=-1).clip(0, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Shader rendering


def _kz_shader() -> Callable[..., vs.VideoNode] | None:
    """``kizunasr_vs.shader`` if its filter module is there, else None (use core.placebo.Shader)."""
    if not (REPO / "kizunasr_vs" / "shader" / "placebo.py").is_file():
        return None
    try:
        import kizunasr_vs
    except Exception:  # the package may be mid-edit; the fallback still measures the shaders
        return None
    return getattr(kizunasr_vs, "shader", None)


def run_shaders(clip: vs.VideoNode, names: Sequence[str], width: int | None = None,
                height: int | None = None) -> vs.VideoNode:
    """Run the ``glsl/`` shaders in ``names`` one after another on a YUV444P16 clip.

    Output sizes come from the shaders (``kizuna_edge2x`` doubles); ``width``/``height`` force
    the size of the last render (vs-placebo's upscaler then scales to it).
    """
    paths = [str(GLSL / n) for n in names]
    kz = _kz_shader()
    if kz is not None:
        return kz(clip, paths, width=width, height=height)
    out = clip
    for i, path in enumerate(paths):
        text = Path(path).read_text()
        kw = {}
        if "//!WIDTH HOOKED.w 2 *" in text:
            kw = {"width": out.width * 2, "height": out.height * 2}
        if i == len(paths) - 1 and width is not None and height is not None:
            kw = {"width": width, "height": height}
        out = core.placebo.Shader(out, shader_s=text.encode(), matrix=2, **kw)  # 2 = BT.709
        out = core.std.SetFrameProps(out, _Range=1, _Matrix=1)
    return out


# ---------------------------------------------------------------------------------------------
# Metrics


def psnr(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    """PSNR (dB) of two [0, 1] images, ``border`` pixels cropped."""
    return metrics.psnr(a, b, border)


def ssim(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    """Mean SSIM (Wang et al. 2004) of two [0, 1] images."""
    return metrics.ssim(a, b, border)


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Case:
    name: str
    hr: np.ndarray  # RGB, float32
    lr: np.ndarray  # RGB, float32, half the size


def load_cases(media: Path, names: Sequence[str] = DEFAULT_IMAGES, max_size: int | None = None) -> list[Case]:
    """HR/LR pairs; ``max_size`` centre-crops the HR image (and its LR) to at most that many
    pixels per side (for quick runs)."""
    cases = []
    for name in names:
        path = media / name
        hr = load_rgb(path)
        lr_path = media / name.replace("_HR.", "_LR.")
        lr = load_rgb(lr_path) if lr_path != path and lr_path.is_file() else None
        h, w = hr.shape[0] // 2 * 2, hr.shape[1] // 2 * 2
        if lr is not None and lr.shape[:2] != (h // 2, w // 2):
            lr = None
        y0 = x0 = 0
        if max_size is not None:
            ch, cw = min(h, max_size // 2 * 2), min(w, max_size // 2 * 2)
            y0, x0 = (h - ch) // 4 * 2, (w - cw) // 4 * 2
            h, w = ch, cw
        hr = hr[y0:y0 + h, x0:x0 + w]
        lr = downscale2x(hr) if lr is None else lr[y0 // 2:(y0 + h) // 2, x0 // 2:(x0 + w) // 2]
        cases.append(Case(Path(name).stem, hr, lr))
    return cases


def zimg_method(kernel: str, **kw: float) -> Callable[[vs.VideoNode], vs.VideoNode]:
    def up(clip: vs.VideoNode) -> vs.VideoNode:
        return getattr(core.resize, kernel)(clip, clip.width * 2, clip.height * 2, **kw)

    return up


METHODS: dict[str, Callable[[vs.VideoNode], vs.VideoNode]] = {
    "bilinear": zimg_method("Bilinear"),
    "bicubic": zimg_method("Bicubic", filter_param_a=0.0, filter_param_b=0.5),
    "lanczos": zimg_method("Lanczos", filter_param_a=3),
    "spline36": zimg_method("Spline36"),
    "pl_ewa_lanczos": lambda c: run_shaders(c, ["kizuna_passthrough.glsl"], c.width * 2, c.height * 2),
    "pl_ewa+antiring": lambda c: run_shaders(c, ["kizuna_antiring.glsl"], c.width * 2, c.height * 2),
    "edge2x": lambda c: run_shaders(c, CHAIN[:1]),
    "chain": lambda c: run_shaders(c, CHAIN),
}


Results = dict[str, dict[str, tuple[float, float]]]


def evaluate(cases: Sequence[Case], methods: Sequence[str] = tuple(METHODS)) -> Results:
    """{method: {image: (psnr_y, ssim_y)}}"""
    results: Results = {m: {} for m in methods}
    for case in cases:
        truth = rgb_to_luma(case.hr)
        clip = yuv444_clip(case.lr)
        for m in methods:
            out = METHODS[m](clip)
            if (out.width, out.height) != (clip.width * 2, clip.height * 2):
                raise RuntimeError(f"{m}: got {out.width}x{out.height}, expected 2x {clip.width}x{clip.height}")
            y = luma_of(out)
            results[m][case.name] = (psnr(y, truth), ssim(y, truth))
    return results


def format_table(results: Results) -> str:
    """One row per method: PSNR (dB) / SSIM of Y per image, then the means."""
    images = list(next(iter(results.values())).keys())
    cols = [*images, "mean"]
    width = max(16, *(len(c) for c in cols))
    lines = [f"{'method':<16}" + "".join(f" | {c:>{width}}" for c in cols),
             f"{'':<16}" + "".join(f" | {'PSNR   SSIM':>{width}}" for _ in cols)]
    lines.insert(1, "-" * len(lines[0]))
    for m, per in results.items():
        vals = [per[n] for n in images]
        vals.append((float(np.mean([v[0] for v in vals])), float(np.mean([v[1] for v in vals]))))
        lines.append(f"{m:<16}" + "".join(f" | {f'{p:6.2f} {s:.4f}':>{width}}" for p, s in vals))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder with the test images")
    ap.add_argument("--max-size", type=int, default=None, help="centre-crop images to this size (px)")
    ap.add_argument("images", nargs="*", default=list(DEFAULT_IMAGES), help="image file names in --media")
    args = ap.parse_args(argv)
    cases = load_cases(args.media, args.images, args.max_size)
    print(format_table(evaluate(cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
