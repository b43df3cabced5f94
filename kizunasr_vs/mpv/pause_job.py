"""The AI still, shared by the IPC worker (worker.py) and `kizunasr play` (play.py).

``PauseJobs`` is the scheduling: a debounce timer, a generation counter and the job thread.
``StillRenderer`` is the work: the profile's ``pause`` chain on the grabbed RGB frame, fitted to the
video rect, with the VapourSynth graph kept between pauses (the model stays loaded).
``load_rgb`` (the grabbed screenshot) and ``write_bgra`` (the overlay file) are the IPC worker's
ends; ``Timings`` splits the latency into grab (screenshot + decode), inference (chain + fit),
transfer (hand-over to mpv) and display (the overlay call).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import vapoursynth as vs

from kizunasr_vs.profiles.chain import build_pipeline
from kizunasr_vs.profiles.loader import Step

log = logging.getLogger(__name__)
_FRAMES = 1 << 20  # length of the still graph's source: each render gets a new frame number (no cache hits)


class StaleJob(Exception):  # noqa: N818 - a signal, not an error: KizunaError handlers must not catch it
    """A pause job whose pause ended (resume, seek, resize, profile change) before it finished."""


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


class PauseJobs:
    """Debounce, generations and the job thread.

    ``schedule()`` (re)starts the debounce timer; ``invalidate()`` makes every job in flight stale and
    cancels a queued one. Once the timer has run out, the thread calls ``run_job(gen)``; the job calls
    ``check(gen)`` after each phase and shows its result holding ``cv`` after a last check, so an
    invalidation (which also holds ``cv``) is never overtaken by a stale result. One job runs at a
    time; ``idle()`` (optional) runs on the thread whenever no job is due.
    """

    def __init__(self, debounce: float, run_job: Callable[[int], None],
                 on_error: Callable[[int, Exception], None], on_stale: Callable[[int], None] | None = None,
                 idle: Callable[[], None] | None = None) -> None:
        self.debounce = debounce
        self.cv = threading.Condition(threading.RLock())
        self.gen = 0
        self.due: float | None = None
        self.stopped = False
        self._run_job, self._on_error, self._on_stale, self._idle = run_job, on_error, on_stale, idle
        self._thread = threading.Thread(target=self._loop, name="kizunasr-pause-job", daemon=True)

    def schedule(self) -> None:
        with self.cv:
            self.due = time.monotonic() + self.debounce
            self.cv.notify_all()

    def invalidate(self, then: Callable[[], None] | None = None) -> int:
        """Bump the generation (``then`` runs under the same lock, e.g. to remove the overlay); the new one."""
        with self.cv:
            self.gen += 1
            self.due = None
            if then is not None:
                then()
            return self.gen

    def check(self, gen: int) -> None:
        if gen != self.gen or self.stopped:
            raise StaleJob

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 30) -> None:
        with self.cv:
            self.stopped = True
            self.cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _next(self) -> int | None:
        """The generation of a job that is due now, else None after waiting a little."""
        with self.cv:
            due = self.due
            if due is not None and time.monotonic() >= due:
                self.due = None
                return self.gen
            self.cv.wait(0.05 if due is None else max(0.0, min(due - time.monotonic(), 0.05)))
            return None

    def _loop(self) -> None:
        while not self.stopped:
            with self.cv:
                idle = self.due is None
            if idle and self._idle is not None:
                try:
                    self._idle()
                except Exception:  # noqa: BLE001 - idle work (a warm-up) is best effort
                    log.exception("pause job thread: idle work failed")
            gen = self._next()
            if gen is None:
                continue
            try:
                try:
                    self._run_job(gen)
                except StaleJob:
                    if self._on_stale is not None:
                        self._on_stale(gen)
                except Exception as exc:  # noqa: BLE001 - a failed still must never stop playback
                    self._on_error(gen, exc)  # it decides what to log and show
            except Exception:  # noqa: BLE001 - nor may a failing callback end the thread
                log.exception("pause job %d: its error handler failed", gen)


class StillGraph:
    """The pause chain as a VapourSynth graph on a replaceable full-range RGB24 source frame."""

    def __init__(self, steps: list[Step], width: int, height: int, rect: Rect, provider: str) -> None:
        self.current: tuple[int, np.ndarray] | None = None
        self.count = 0
        blank = vs.core.std.BlankClip(format=vs.RGB24, width=width, height=height, length=_FRAMES)
        src = vs.core.std.ModifyFrame(blank, blank, self._fill)
        src = vs.core.std.SetFrameProps(src, _Matrix=0, _Transfer=1, _Primaries=1, _Range=1)
        out = build_pipeline(steps, provider).apply(src)
        self.out = out.resize.Spline36(rect.w, rect.h, format=vs.RGB24, dither_type="none")

    def _fill(self, n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        if self.current is None or self.current[0] != n:  # a probe while building the graph: blank
            return f
        out = f.copy()
        for i in range(3):
            np.copyto(np.asarray(out[i]), self.current[1][..., i])
        return out

    def render(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The chain's output for ``rgb`` (H x W x 3 uint8), fitted to the rect: R, G and B planes
        (rect.h x rect.w uint8 each, views of the output frame)."""
        self.count = (self.count + 1) % _FRAMES
        self.current = (self.count, np.ascontiguousarray(rgb))
        frame = self.out.get_frame(self.count)
        return [np.asarray(frame[i]) for i in range(3)]


class StillRenderer:
    """Renders stills, keeping the graph of the last chain, frame size and rect (one: memory)."""

    def __init__(self, provider: str = "auto") -> None:
        self.provider = provider
        self._key: str | None = None
        self._graph: StillGraph | None = None

    def render(self, rgb: np.ndarray, steps: list[Step], rect: Rect) -> list[np.ndarray]:
        key = json.dumps([steps, rgb.shape[1], rgb.shape[0], rect.w, rect.h], sort_keys=True)
        if self._graph is None or key != self._key:
            self._graph = None  # free the old graph (and its frames) before building the new one
            self._graph = StillGraph(steps, rgb.shape[1], rgb.shape[0], rect, self.provider)
            self._key = key
        return self._graph.render(rgb)


def to_bgra(planes: list[np.ndarray]) -> bytes:
    """Opaque BGRA bytes (rows of ``w * 4``) from R, G and B planes; opaque makes premultiplied alpha trivial."""
    out = np.empty((*planes[0].shape, 4), np.uint8)
    for i, plane in enumerate(planes):
        out[..., 2 - i] = plane
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
