"""`kizunasr play FILE`: mpv through libmpv (python-mpv) with KizunaSR in-process.

While playing, ``glsl-shaders`` is the profile's realtime chain for the source height (set once
``video-params`` is known). On pause (debounced), a background thread grabs the frame
(``screenshot-raw video``), runs the profile's pause chain and shows the result fitted to the
video rectangle of ``osd-dimensions`` as an image overlay. Scheduling and rendering are the IPC
worker's (pause_job.py): the pause chain's graph is kept between pauses, so a model is loaded once;
resume, seek or a new file removes the overlay, and a job that finishes after that is dropped
(generation counter). ``Player.last_overlay`` records the last overlay shown, with timings.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import vapoursynth as vs

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.mpv.install import mpv035_copy, old_mpv
from kizunasr_vs.mpv.pause_job import PauseJobs, Rect, StillRenderer, Timings
from kizunasr_vs.profiles.loader import Profile

log = logging.getLogger(__name__)
DEBOUNCE_MS = 250


class PlayError(KizunaError, RuntimeError):
    """The player cannot start (libmpv missing, bad profile); the message says what to do."""


def load_mpv() -> ModuleType | None:
    """The python-mpv module, or None when python-mpv or libmpv is not installed."""
    try:
        import mpv
    except (ImportError, OSError):
        return None
    return mpv


def shader_file(name: str, old_mpv: bool = False) -> Path:
    """Absolute path of a profile step's shader; for mpv < 0.36 its copy without ``//!PARAM`` blocks."""
    path = shader_path(name).resolve()
    return mpv035_copy(path) if old_mpv else path


@dataclass(frozen=True)
class Shown:
    """An overlay that was put on screen."""

    generation: int
    pos: tuple[int, int]
    size: tuple[int, int]
    source: tuple[int, int]
    timings: dict[str, float]


class Player:
    """A libmpv player with KizunaSR's realtime shaders and the AI still on pause."""

    def __init__(self, file: str | Path, profile: str | Profile = "auto", extra: dict[str, Any] | None = None,
                 debounce_ms: int = DEBOUNCE_MS, provider: str = "auto") -> None:
        mpv = load_mpv()
        if mpv is None:
            raise PlayError("libmpv is not available: install it (Debian: apt-get install libmpv-dev) "
                            "and python-mpv (pip install python-mpv)")
        from kizunasr_vs.profiles.upscale import resolve_profile

        self.file = str(file)
        self.profile = resolve_profile(profile)
        self.shaders: list[str] = []
        self.height: int | None = None
        self.last_overlay: Shown | None = None
        self.overlay_visible = False
        self.jobs = PauseJobs(debounce_ms / 1000, self._run_job, self._job_failed,
                              lambda gen: log.info("pause job %d dropped (resumed or seeked)", gen))
        self.renderer = StillRenderer(provider)
        self.started = threading.Event()
        self.mpv = mpv.MPV(vo="gpu", input_default_bindings=True, input_vo_keyboard=True, osc=True, config=False,
                           **(extra or {}))
        self.old_mpv = old_mpv(str(self.mpv.mpv_version))
        self.overlay = self.mpv.create_image_overlay()
        self.mpv.observe_property("video-params", self._on_params)
        self.mpv.observe_property("pause", self._on_pause)
        self.mpv.observe_property("osd-dimensions", self._on_resize)
        self.mpv.register_event_callback(self._on_event)

    # -- mpv callbacks (python-mpv's event thread) ----------------------------------------------

    def _on_params(self, _name: str, params: dict[str, Any] | None) -> None:
        height = (params or {}).get("h")
        if not height or height == self.height:
            return
        self.height = int(height)
        steps = self.profile.for_height(self.height).realtime
        self.shaders = [str(shader_file(s["shader"], self.old_mpv)) for s in steps if "shader" in s]
        self.mpv.glsl_shaders = self.shaders
        log.info("profile %s, source height %d: %d realtime shaders", self.profile.name, self.height,
                 len(self.shaders))
        self.started.set()

    def _on_pause(self, _name: str, paused: bool | None) -> None:
        if paused:
            self.jobs.schedule()
        else:
            self._invalidate()

    def _on_resize(self, _name: str, _dims: Any) -> None:
        if self.overlay_visible or self.jobs.due is not None:
            self._invalidate()
            if self.mpv.pause:
                self.jobs.schedule()

    def _on_event(self, event: Any) -> None:
        name = getattr(event, "event_id", None)
        kind = getattr(name, "name", str(name)) if name is not None else ""
        if kind.lower().replace("_", "-") in ("seek", "start-file", "end-file"):
            self._invalidate()
            if kind.lower() == "seek" and self.mpv.pause:
                self.jobs.schedule()

    def _invalidate(self) -> None:
        def remove_overlay() -> None:
            if self.overlay_visible:
                self.overlay.remove()
                self.overlay_visible = False

        self.jobs.invalidate(remove_overlay)

    # -- the pause job (PauseJobs' thread) ------------------------------------------------------

    def _job_failed(self, gen: int, exc: Exception) -> None:
        log.error("pause job %d failed", gen, exc_info=exc)
        self._osd(f"KizunaSR AI still failed: {exc}")

    def _run_job(self, gen: int) -> None:
        if self.height is None:
            return
        steps = self.profile.for_height(self.height).pause
        rect = Rect.from_osd(self.mpv.osd_dimensions)
        if not steps or rect is None:
            return
        t = Timings()
        rgb = self.grab()
        t.lap("grab")
        self.jobs.check(gen)
        planes = self.renderer.render(rgb, steps, rect)
        t.lap("inference")
        from PIL import Image

        still = Image.fromarray(np.dstack(planes), "RGB").convert("RGBA")
        t.lap("transfer")
        with self.jobs.cv:
            self.jobs.check(gen)
            self.overlay.update(still, pos=(rect.x, rect.y))
            self.overlay_visible = True
        t.lap("display")
        self.last_overlay = Shown(gen, (rect.x, rect.y), (rect.w, rect.h), (rgb.shape[1], rgb.shape[0]),
                                  t.as_dict())
        log.info("AI still shown: %s", self.last_overlay)

    def grab(self) -> np.ndarray:
        """The current frame at source size without our shaders, as H x W x 3 uint8 RGB.

        mpv's ``screenshot-raw video`` renders through the user shaders (then scales back to the
        source size), so the realtime chain is taken off for the grab and put back afterwards.
        """
        with self.jobs.cv:
            shaders = list(self.mpv.glsl_shaders or [])
            if shaders:
                self.mpv.glsl_shaders = []
            try:
                image = self.mpv.screenshot_raw("video")
            finally:
                if shaders:
                    self.mpv.glsl_shaders = shaders
        return np.asarray(image.convert("RGB"))

    def _osd(self, text: str) -> None:
        with contextlib.suppress(Exception):  # mpv may be shutting down
            self.mpv.show_text(text, 4000)

    # -- lifetime -------------------------------------------------------------------------------

    def wait_started(self, timeout: float) -> bool:
        """True once the source height is known and the realtime shaders are set."""
        return self.started.wait(timeout)

    def run(self) -> None:
        """Play the file until mpv quits (the window is closed, q, or :meth:`quit`)."""
        self.jobs.start()
        try:
            self.mpv.play(self.file)
            self.mpv.wait_for_shutdown()
        finally:
            self.jobs.close()
            self.mpv.terminate()

    def quit(self) -> None:
        """Ask mpv to quit (safe from any thread, also when mpv has already gone)."""
        self.jobs.close(timeout=0)
        with contextlib.suppress(Exception):  # already shut down
            self.mpv.quit()


def main(file: str, profile: str = "auto") -> int:
    """Entry point of `kizunasr play`; returns the exit status."""
    try:
        player = Player(file, profile)
    except PlayError as exc:
        print(f"kizunasr play: {exc}", file=sys.stderr)
        return 1
    except (ValueError, vs.Error) as exc:  # bad profile
        print(f"kizunasr play: {exc}", file=sys.stderr)
        return 1
    player.run()
    return 0
