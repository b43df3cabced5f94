"""`kizunasr play FILE`: mpv through libmpv (python-mpv) with KizunaSR in-process.

While playing, ``glsl-shaders`` is the profile's realtime chain for the source height (set once
``video-params`` is known). The AI still on pause is the IPC worker's ``StillController`` (still.py)
through ``LibmpvPort``: the frame comes from ``screenshot-raw video`` and the still goes up as an image
overlay fitted to the video rectangle of ``osd-dimensions``. ``Player.last_overlay`` records the last
overlay shown, with timings.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.mpv.install import mpv035_copy, old_mpv
from kizunasr_vs.mpv.pause_job import Rect
from kizunasr_vs.mpv.still import StillController
from kizunasr_vs.profiles.loader import Profile, Step

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


class LibmpvPort:
    """The still controller's port to an in-process libmpv player."""

    gone: tuple[type[BaseException], ...] = ()

    def __init__(self, player: Player) -> None:
        self.player = player
        self.overlay = player.mpv.create_image_overlay()

    def grab(self) -> np.ndarray:
        """The current frame at source size without our shaders, as H x W x 3 uint8 RGB.

        mpv's ``screenshot-raw video`` renders through the user shaders (then scales back to the
        source size), so the realtime chain is taken off for the grab and put back afterwards.
        """
        mpv = self.player.mpv
        with self.player.still.jobs.cv:
            shaders = list(mpv.glsl_shaders or [])
            if shaders:
                mpv.glsl_shaders = []
            try:
                image = mpv.screenshot_raw("video")
            finally:
                if shaders:
                    mpv.glsl_shaders = shaders
        return np.asarray(image.convert("RGB"))

    def time_pos(self) -> float | None:
        pos = self.player.mpv.time_pos
        return float(pos) if isinstance(pos, int | float) else None

    def prepare(self, planes: list[np.ndarray], gen: int) -> Any:
        from PIL import Image

        return Image.fromarray(np.dstack(planes), "RGB").convert("RGBA")

    def show(self, prepared: Any, rect: Rect) -> dict[str, Any]:
        self.overlay.update(prepared, pos=(rect.x, rect.y))
        return {}

    def hide(self) -> None:
        self.overlay.remove()

    def osd(self, text: str, seconds: float) -> None:
        with contextlib.suppress(Exception):  # mpv may be shutting down
            self.player.mpv.show_text(text, int(seconds * 1000))

    def emit(self, kind: str, **data: Any) -> None:
        log.info("%s %s", kind, data)
        if kind == "overlay":
            x, y, w, h = data["rect"]
            self.player.last_overlay = Shown(data["gen"], (x, y), (w, h), tuple(data["source"]), data["timings"])


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
        self.started = threading.Event()  # set once the source height is known and the realtime shaders are set
        self.mpv = mpv.MPV(vo="gpu", input_default_bindings=True, input_vo_keyboard=True, osc=True, config=False,
                           **(extra or {}))
        self.old_mpv = old_mpv(str(self.mpv.mpv_version))
        self.still = StillController(LibmpvPort(self), self._pause_chain, provider, debounce_ms,
                                     realtime_chain=self._realtime_chain)
        self.mpv.observe_property("video-params", self._on_params)
        self.mpv.observe_property("pause", self._on_pause)
        self.mpv.observe_property("osd-dimensions", self._on_resize)
        self.mpv.register_event_callback(self._on_event)

    def _pause_chain(self) -> list[Step]:
        return self.profile.for_height(self.height).pause if self.height is not None else []

    def _realtime_chain(self) -> list[Step]:
        return self.profile.for_height(self.height).realtime if self.height is not None else []

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
        self.still.video_size(int((params or {}).get("w") or 0) or None, self.height)
        self.started.set()

    def _on_pause(self, _name: str, paused: bool | None) -> None:
        self.still.paused(bool(paused))

    def _on_resize(self, _name: str, dims: Any) -> None:
        self.still.video_rect(dims if isinstance(dims, dict) else None)

    def _on_event(self, event: Any) -> None:
        name = getattr(event, "event_id", None)
        kind = getattr(name, "name", str(name)) if name is not None else ""
        kind = kind.lower().replace("_", "-")
        if kind in ("seek", "start-file", "end-file"):
            self.still.invalidate(kind)
            if kind == "seek":
                self.still.schedule()

    # -- lifetime -------------------------------------------------------------------------------

    def run(self) -> None:
        """Play the file until mpv quits (the window is closed, q, or :meth:`quit`)."""
        self.still.start()
        try:
            self.mpv.play(self.file)
            self.mpv.wait_for_shutdown()
        finally:
            self.still.close()
            self.mpv.terminate()

    def quit(self) -> None:
        """Ask mpv to quit (safe from any thread, also when mpv has already gone)."""
        self.still.close(timeout=0)
        with contextlib.suppress(Exception):  # already shut down
            self.mpv.quit()
