"""`kizunasr play FILE`: mpv through libmpv (python-mpv) with KizunaSR in-process.

The realtime chain and its governor are the mpv script's (mpv_scripts/kizunasr.lua), loaded from a private mpv
config folder in the user cache that `play_config` fills as `kizunasr install-mpv` fills mpv's own: the script
picks the profile's chain for the source height once ``video-params`` is known, and steps down its ladder when
frames do not keep up (and back up). Its ``kizunasr-event`` messages tell this side the chain it set. The script
runs with no worker: the AI still on pause is made here, by the IPC worker's ``StillController`` (still.py)
through ``LibmpvPort``: the frame comes from ``screenshot-raw video`` and the still goes up as an image overlay
fitted to the video rectangle of ``osd-dimensions``. ``Player.last_overlay`` records the last overlay shown,
with timings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.paths import cache_dir, data_dir
from kizunasr_vs.mpv.install import install, old_mpv
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


def play_config() -> Path:
    """`kizunasr play`'s own mpv config folder (in the user cache), brought up to date: what `kizunasr install-mpv`
    puts into mpv's (the script, our shaders and their copies for mpv < 0.36, the profiles, key bindings), with
    no worker command. mpv's own config (mpv.conf, your scripts) is not read."""
    config = cache_dir() / "play-mpv"
    install(config, force=True, command="")
    return config


def script_opts(options: dict[str, str]) -> str:
    """A ``script-opts`` value for the kizunasr script; every value quoted as ``%bytes%text`` (paths may hold
    commas)."""
    return ",".join(f"kizunasr-{key}=%{len(value.encode())}%{value}" for key, value in options.items())


def script_profile(profile: Profile) -> str:
    """What the script's ``profile`` option takes for ``profile``: a built-in's name, else its JSON file."""
    builtin = data_dir("profiles") / f"{profile.name}.json"
    return profile.name if builtin.is_file() and builtin.resolve() == profile.path.resolve() else str(profile.path)


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
        self.shaders: list[str] = []  # the realtime chain the script set, and its tier on the profile's ladder
        self.tier = 0
        self.height: int | None = None
        self.last_overlay: Shown | None = None
        self.started = threading.Event()  # set once the script has set the realtime chain for the source
        opts = {"profile": script_profile(self.profile), "ai_on_pause": "no", "worker_command": ""}
        self.mpv = mpv.MPV(vo="gpu", input_default_bindings=True, input_vo_keyboard=True, osc=True, config=True,
                           config_dir=str(play_config()), script_opts=script_opts(opts), **(extra or {}))
        self.old_mpv = old_mpv(str(self.mpv.mpv_version))
        self.still = StillController(LibmpvPort(self), self._pause_chain, provider, debounce_ms,
                                     realtime_chain=self._realtime_chain)
        self.mpv.observe_property("video-params", self._on_params)
        self.mpv.observe_property("pause", self._on_pause)
        self.mpv.observe_property("osd-dimensions", self._on_resize)
        self.mpv.register_event_callback(self._on_event)
        self.mpv.register_message_handler("kizunasr-event", self._on_script_event)

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
        self.still.video_size(int((params or {}).get("w") or 0) or None, self.height)

    def _on_script_event(self, text: bytes | str, *_: Any) -> None:
        """The script's status messages: the chain it set (its governor's tier), logged."""
        try:
            data = json.loads(text)
        except ValueError:
            return
        if isinstance(data, dict) and data.get("event") == "shaders":
            self.shaders, self.tier = [str(s) for s in data.get("shaders") or []], int(data.get("tier") or 0)
            log.info("profile %s, source height %s: tier %d of %s, %d realtime shaders%s", data.get("profile"),
                     data.get("height"), self.tier, data.get("tiers"), len(self.shaders),
                     f" (governor: {data['governor']})" if data.get("governor") else "")
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
