"""A built-in, generated anime-like sample clip (flat colours, dark line art, a gradient sky).

It lets ``kizunasr upscale`` run with no input and no network. Everything is drawn here with
numpy; the clip is deterministic.
"""

from __future__ import annotations

import numpy as np
import vapoursynth as vs

SAMPLE_WIDTH = 640
SAMPLE_HEIGHT = 360
SAMPLE_FRAMES = 48
SAMPLE_FPS = 24


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def _outline(mask: np.ndarray, thickness: int) -> np.ndarray:
    """Pixels within ``thickness`` of the mask's border (a cheap morphological edge)."""
    grown = mask.copy()
    shrunk = mask.copy()
    for dy in range(-thickness, thickness + 1):
        for dx in range(-thickness, thickness + 1):
            if dx * dx + dy * dy > thickness * thickness:
                continue
            shifted = np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
            grown |= shifted
            shrunk &= shifted
    return grown & ~shrunk


def draw_frame(n: int, width: int = SAMPLE_WIDTH, height: int = SAMPLE_HEIGHT) -> np.ndarray:
    """Frame ``n`` of the sample as float32 RGB, shape (3, height, width), values 0..1."""
    xs, ys = _grid(width, height)
    t = n / SAMPLE_FPS
    sky_top = np.array([0.35, 0.55, 0.95], np.float32)[:, None, None]
    sky_bottom = np.array([0.85, 0.92, 1.0], np.float32)[:, None, None]
    img = sky_top + (sky_bottom - sky_top) * (ys / height)[None]
    ground = ys > height * (0.72 + 0.03 * np.sin(xs / width * 6.0))
    img = np.where(ground[None], np.array([0.45, 0.70, 0.35], np.float32)[:, None, None], img)

    cx, cy, r = width * (0.3 + 0.2 * np.sin(t)), height * 0.45, height * 0.22
    head = (xs - cx) ** 2 + (ys - cy) ** 2 < r * r
    img = np.where(head[None], np.array([1.0, 0.86, 0.74], np.float32)[:, None, None], img)
    hair = head & (ys < cy - r * 0.15 + 12 * np.sin(xs / 9.0))
    img = np.where(hair[None], np.array([0.55, 0.25, 0.55], np.float32)[:, None, None], img)
    for ex in (-0.4, 0.4):
        eye = ((xs - cx - ex * r) / (r * 0.16)) ** 2 + ((ys - cy - 0.1 * r) / (r * 0.26)) ** 2 < 1
        img = np.where(eye[None], np.array([0.2, 0.35, 0.8], np.float32)[:, None, None], img)

    box = (abs(xs - width * 0.78) < width * 0.12) & (abs(ys - height * 0.55) < height * 0.2)
    img = np.where(box[None], np.array([0.95, 0.6, 0.2], np.float32)[:, None, None], img)

    lines = _outline(head, 2) | _outline(box, 2) | _outline(hair, 1)
    diagonal = abs((ys - height * 0.9) + (xs - width * 0.1) * 0.35) < 1.2
    img = np.where((lines | (diagonal & ground))[None], np.float32(0.08), img)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def sample_clip(frames: int = SAMPLE_FRAMES, width: int = SAMPLE_WIDTH, height: int = SAMPLE_HEIGHT,
                format: int = vs.YUV420P8) -> vs.VideoNode:
    """The sample as a clip in ``format`` (default YUV420P8, BT.709 limited, like a web video)."""
    core = vs.core
    blank = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=frames,
                               fpsnum=SAMPLE_FPS, fpsden=1)

    def render(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        rgb = draw_frame(n, width, height)
        for plane in range(3):
            np.copyto(np.asarray(out[plane]), rgb[plane])
        return out

    rgb = core.std.ModifyFrame(blank, blank, render)
    rgb = core.std.SetFrameProps(rgb, _Matrix=0, _Transfer=1, _Primaries=1, _Range=1)
    if format == vs.RGBS:
        return rgb
    return rgb.resize.Bicubic(format=format, matrix=1, range=0, transfer=1, primaries=1)
