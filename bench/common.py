"""What the measurement scripts in bench/ share: this checkout on ``sys.path``, the shared data folder, images
as arrays and clips, a noise clip, PSNR and the frame-pulling timing loops.

A script here imports it as ``common`` (``python bench/NAME.py`` puts bench/ first on ``sys.path``), before
anything from ``kizunasr_vs``, so the scripts run from a checkout without installing it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import vapoursynth as vs  # noqa: E402

from kizunasr_vs.cli.bench import WARM_FRAMES, time_clip  # noqa: E402
from kizunasr_vs.cli.bench_clips import PASSTHROUGH_2X, noise_clip  # noqa: E402
from kizunasr_vs.core.metrics import psnr  # noqa: E402

SHARED = Path(os.environ.get("KIZUNASR_SHARED", REPO.parent / "shared"))  # models/ and media/ (tests use it too)
MEDIA = SHARED / "media"

__all__ = ["MEDIA", "PASSTHROUGH_2X", "REPO", "SHARED", "WARM_FRAMES", "load_rgb", "noise_clip", "psnr",
           "pull_fps", "rgb_clip", "time_clip"]


def load_rgb(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """An image file as float32 RGB in [0, 1], H x W x 3; with ``size`` (width, height) resized bicubic."""
    from PIL import Image

    with Image.open(path) as im:
        rgb = im.convert("RGB")
        if size is not None:
            rgb = rgb.resize(size, Image.BICUBIC)
        return np.asarray(rgb, dtype=np.float32) / 255.0


def rgb_clip(frames: np.ndarray | Sequence[np.ndarray]) -> vs.VideoNode:
    """An RGBS clip of H x W x 3 ``frames`` in [0, 1] (one array: a one-frame clip), tagged full range, BT.709."""
    frames = [frames] if isinstance(frames, np.ndarray) else list(frames)
    h, w, _ = frames[0].shape
    blank = vs.core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=len(frames))
    planes = [[np.ascontiguousarray(rgb[..., i]) for i in range(3)] for rgb in frames]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i in range(3):
            np.copyto(np.asarray(out[i]), planes[n][i])
        return out

    clip = vs.core.std.ModifyFrame(blank, blank, fill)
    return vs.core.std.SetFrameProps(clip, _Matrix=0, _Transfer=1, _Primaries=1, _Range=1)


def pull_fps(clip: vs.VideoNode, warm: int = 0) -> float:
    """fps of pulling the frames of ``clip`` after the first ``warm`` (pulled untimed first)."""
    for _ in clip[:warm].frames(close=True) if warm else ():
        pass
    start = time.perf_counter()
    count = sum(1 for _ in clip[warm:].frames(close=True))
    return count / (time.perf_counter() - start)
