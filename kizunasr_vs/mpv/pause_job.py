"""The AI still: frame grab -> the profile's ``pause`` chain -> a BGRA image fitted to the video rect.

``render_still`` is the pure part (RGB numpy in, BGRA bytes out), testable without mpv.
``load_rgb`` (the grabbed screenshot) and ``write_bgra`` (the overlay file) are the mpv-facing
ends; ``Timings`` splits the latency into grab (screenshot + decode), inference (chain + fit),
transfer (file write) and display (``overlay-add`` round trip).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import vapoursynth as vs

from kizunasr_vs.profiles.chain import build_pipeline
from kizunasr_vs.profiles.loader import Step


@dataclass(frozen=True)
class Rect:
    """The video's on-screen rectangle in OSD pixels."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def from_osd(cls, dims: dict[str, Any] | None) -> Rect | None:
        """From mpv's ``osd-dimensions`` (w, h and the margins ml, mt, mr, mb); None if empty."""
        if not dims:
            return None
        ml, mt, mr, mb = (int(round(dims.get(k, 0))) for k in ("ml", "mt", "mr", "mb"))
        w, h = int(dims.get("w", 0)) - ml - mr, int(dims.get("h", 0)) - mt - mb
        return cls(ml, mt, w, h) if w > 0 and h > 0 else None


@dataclass
class Timings:
    """Milliseconds per phase of one pause job."""

    grab: float = 0.0
    inference: float = 0.0
    transfer: float = 0.0
    display: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    def lap(self, phase: str) -> None:
        """Charge the time since the last lap to ``phase``."""
        now = time.perf_counter()
        setattr(self, phase, getattr(self, phase) + (now - self.started) * 1000)
        self.started = now

    @property
    def total(self) -> float:
        return self.grab + self.inference + self.transfer + self.display

    def as_dict(self) -> dict[str, float]:
        out = {k: round(v, 1) for k, v in asdict(self).items() if k != "started"}
        out["total"] = round(self.total, 1)
        return out


def rgb_clip(rgb: np.ndarray) -> vs.VideoNode:
    """A one-frame full-range RGB24 clip (BT.709 props) from an ``H x W x 3`` uint8 array."""
    h, w, _ = rgb.shape
    blank = vs.core.std.BlankClip(format=vs.RGB24, width=w, height=h, length=1)
    planes = [np.ascontiguousarray(rgb[..., i]) for i in range(3)]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i, plane in enumerate(planes):
            np.copyto(np.asarray(out[i]), plane)
        return out

    clip = vs.core.std.ModifyFrame(blank, blank, fill)
    return vs.core.std.SetFrameProps(clip, _Matrix=0, _Transfer=1, _Primaries=1, _Range=1)


def render_still(rgb: np.ndarray, steps: list[Step], rect: Rect, provider: str = "auto") -> bytes:
    """Run ``steps`` on the RGB frame, fit the result to ``rect`` (Spline36), return BGRA bytes.

    The bytes are ``rect.h`` rows of ``rect.w * 4`` (opaque, so premultiplied alpha is trivial).
    """
    clip = build_pipeline(steps, provider).apply(rgb_clip(rgb))
    clip = clip.resize.Spline36(rect.w, rect.h, format=vs.RGB24, dither_type="none")
    frame = clip.get_frame(0)
    out = np.empty((rect.h, rect.w, 4), np.uint8)
    for i in range(3):
        out[..., 2 - i] = np.asarray(frame[i])
    out[..., 3] = 255
    return out.tobytes()


def load_rgb(path: Path) -> np.ndarray:
    """An image file as ``H x W x 3`` uint8 RGB."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def write_bgra(path: Path, data: bytes) -> None:
    """Write the overlay bytes (mpv copies them at ``overlay-add``, so the file may go afterwards)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def chain_label(steps: list[Step]) -> str:
    """A short name for a chain: its models, else its shaders."""
    names = [str(s.get("model") or s.get("compiled_model") or "") for s in steps]
    names = [n for n in names if n]
    if not names:
        names = [Path(str(s["shader"])).stem for s in steps if "shader" in s]
    return " + ".join(names) or "(empty)"
