"""The mpv worker: the AI still on pause.

Design. mpv's Lua has no sockets and cannot run VapourSynth, so ``mpv_scripts/kizunasr.lua`` sets the
realtime shader chain itself (from the installed profiles and shaders, so playback needs no Python),
makes sure mpv has a JSON IPC socket (``input-ipc-server``), starts this worker
(``kizunasr worker --ipc SOCKET --profile P``) as an async subprocess, binds keys and restarts
the worker at the next pause if it died. The rest happens here, over mpv's JSON IPC:

* observes ``pause``, ``video-params``, ``osd-dimensions`` and ``path``, plus ``seek`` /
  ``playback-restart`` / file events and the ``kizunasr-*`` script messages (a ``script-message``
  reaches every client, this one included);
* resolves the profile (``auto`` to one this machine meets) and says which with a ``profile`` event,
  which the Lua script uses to pick the realtime chain;
* on pause (debounced, so frame stepping does not flood) grabs the frame with
  ``screenshot-to-file TMP.png video`` (source resolution, no shaders, no OSD), runs the pause
  chain (still.py's ``StillController`` through this file's ``IpcPort``; the OSD says "AI still:
  computing..." meanwhile), scales it to the video rect from ``osd-dimensions`` and shows it with
  ``overlay-add`` (BGRA file, copied by mpv at once); a missing model or shader is one OSD line and
  one log line (no traceback);
* resume, seek, file change, resize, profile change or AI off bump a generation counter and send
  ``overlay-remove``. A job checks its generation after every phase and again, under the same lock
  as the invalidation, right before ``overlay-add``; results of an old generation are dropped,
  never shown. One job runs at a time; newer requests replace queued ones.
* status goes out as ``script-message kizunasr-event <json>`` (for tests and other scripts) and
  to stderr; user-facing text through ``show-text``.

The worker never blocks mpv: IPC commands are asynchronous on mpv's side, and the worker exits
when the socket closes (mpv quit). Nothing a message says can end it: protocol.py drops lines that are
too long or nested too deep, and an error in a handler is logged and the next event served.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from kizunasr_vs.mpv.pause_job import Rect, chain_label, load_rgb, to_bgra, write_bgra
from kizunasr_vs.mpv.protocol import Event, MpvError, MpvIpc
from kizunasr_vs.mpv.still import StillController
from kizunasr_vs.profiles.loader import Profile, ProfileError, Step

log = logging.getLogger("kizunasr.worker")

OVERLAY_ID = 42
OBSERVED = {1: "pause", 2: "video-params", 3: "osd-dimensions", 4: "path"}
MESSAGES = ("kizunasr-profile", "kizunasr-toggle-ai", "kizunasr-clear", "kizunasr-status")


def resolve(profile: str) -> Profile:
    """A profile by name, 'auto', 'auto:<preference>' or path."""
    from kizunasr_vs.profiles.upscale import resolve_profile

    return resolve_profile(profile)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _size_number(value: Any) -> bool:
    return _is_number(value) and value > 0 and float(value).is_integer()


def _video_size(value: Any) -> tuple[int | None, int | None]:
    """(width, height) from mpv's ``video-params``; (None, None) without video; ValueError when malformed."""
    if value is None or (isinstance(value, dict) and not value.get("h")):
        return None, None
    if not isinstance(value, dict):
        raise ValueError(f"video-params is not a map: {value!r}")
    width, height = value.get("w", 0), value.get("h", 0)
    if not (_size_number(width) and _size_number(height)):
        raise ValueError(f"video-params w/h are not positive whole numbers: {width!r} x {height!r}")
    return int(width), int(height)


class IpcPort:
    """The still controller's port to mpv over JSON IPC: ``screenshot-to-file`` in, ``overlay-add`` out."""

    gone: tuple[type[BaseException], ...] = (MpvError,)

    def __init__(self, ipc: MpvIpc, tmp: Path, show_osd: bool = True) -> None:
        self.ipc, self.tmp, self.show_osd = ipc, tmp, show_osd

    def emit(self, kind: str, **data: Any) -> None:
        """A status event for tests and other clients (``script-message kizunasr-event``)."""
        data = {"event": kind, "pid": os.getpid(), **data}
        log.info("%s", json.dumps(data))
        with contextlib.suppress(MpvError):
            self.ipc.send(["script-message", "kizunasr-event", json.dumps(data)], wait=False)

    def osd(self, text: str, seconds: float = 3.0) -> None:
        """An OSD line (mpv does not log show-text, so an ``osd`` event tells other clients and tests)."""
        if not self.show_osd:
            return
        with contextlib.suppress(MpvError):
            self.ipc.send(["show-text", text, int(seconds * 1000)], wait=False)
        self.emit("osd", text=text)

    def grab(self) -> np.ndarray:
        """The decoded frame on screen at source size: ``screenshot-sw`` skips the GPU renderer (and our shaders)."""
        shot = self.tmp / "grab.png"
        sw = self.ipc.get("screenshot-sw", False)
        if not sw:
            self.ipc.send(["set_property", "screenshot-sw", True], wait=False)
        try:
            self.ipc.send(["screenshot-to-file", str(shot), "video"])
            return load_rgb(shot)
        finally:
            if not sw:
                self.ipc.send(["set_property", "screenshot-sw", False], wait=False)
            shot.unlink(missing_ok=True)

    def time_pos(self) -> float | None:
        pos = self.ipc.get("time-pos")
        return float(pos) if _is_number(pos) else None

    def prepare(self, planes: list[np.ndarray], gen: int) -> Path:
        raw = self.tmp / f"overlay_{gen}.bgra"
        write_bgra(raw, to_bgra(planes))
        return raw

    def show(self, prepared: Path, rect: Rect) -> dict[str, Any]:
        self.ipc.send({"name": "overlay-add", "id": OVERLAY_ID, "x": rect.x, "y": rect.y, "file": str(prepared),
                       "offset": 0, "fmt": "bgra", "w": rect.w, "h": rect.h, "stride": rect.w * 4}, timeout=5)
        for old in self.tmp.glob("overlay_*.bgra"):  # mpv copied the file at overlay-add
            if old != prepared:
                old.unlink(missing_ok=True)
        return {"file": str(prepared)}

    def hide(self) -> None:
        with contextlib.suppress(MpvError):
            self.ipc.send(["overlay-remove", OVERLAY_ID], wait=False)


class Worker:
    """One mpv connection: the event loop (main thread); the still controller runs the pause job thread."""

    def __init__(self, ipc: MpvIpc, profile: str, ai: bool = True, debounce_ms: int = 250,
                 provider: str = "auto", show_osd: bool = True) -> None:
        self.ipc = ipc
        self.profile_name = profile
        self.profile: Profile | None = None
        self.ai = ai
        self.cleared = False
        self.tmp = Path(tempfile.mkdtemp(prefix="kizunasr-worker-"))
        self.port = IpcPort(ipc, self.tmp, show_osd)
        self.still = StillController(self.port, lambda: self.chains()[1], provider, debounce_ms,
                                     wanted=lambda: self.ai and not self.cleared,
                                     realtime_chain=lambda: self.chains()[0])
        self.stop = False

    def emit(self, kind: str, **data: Any) -> None:
        self.port.emit(kind, **data)

    def osd(self, text: str, seconds: float = 3.0) -> None:
        self.port.osd(text, seconds)

    # -- profile and shaders ----------------------------------------------------------------

    def load_profile(self) -> bool:
        """Resolve the profile; the ``profile`` event tells the Lua script (which sets the realtime chain) what
        ``auto`` chose."""
        try:
            self.profile = resolve(self.profile_name)
        except (ProfileError, ValueError, OSError) as exc:
            self.osd(f"KizunaSR: profile '{self.profile_name}': {exc}", 6)
            self.emit("error", message=str(exc))
            return False
        self.emit("profile", name=self.profile.name, requested=self.profile_name)
        return True

    def chains(self) -> tuple[list[Step], list[Step]]:
        """(realtime, pause) steps for the current source height; empty when unknown or cleared."""
        height = self.still.state.height
        if self.profile is None or height is None or self.cleared:
            return [], []
        try:
            r = self.profile.for_height(height)
        except ProfileError as exc:
            self.osd(f"KizunaSR: {exc}", 6)
            return [], []
        return r.realtime, r.pause

    # -- events -----------------------------------------------------------------------------

    def on_property(self, name: str, value: Any) -> None:
        if name == "pause":
            self.still.paused(bool(value))
        elif name == "video-params":
            self.still.video_size(*_video_size(value))
        elif name == "osd-dimensions":
            if value is not None and not (isinstance(value, dict) and all(map(_is_number, value.values()))):
                raise ValueError(f"osd-dimensions is not a map of numbers: {value!r}")
            self.still.video_rect(value)
        elif name == "path":
            if value is not None and not isinstance(value, str):
                raise ValueError(f"path is not a string: {value!r}")
            self.still.new_file(value)

    def on_message(self, args: list[str]) -> None:
        if not args or args[0] not in MESSAGES:
            return
        name = args[0]
        if name == "kizunasr-profile" and len(args) > 1:
            self.profile_name = args[1]
            self.cleared = False
            self.still.invalidate("profile")
            if self.load_profile():
                realtime, _ = self.chains()
                self.osd(f"KizunaSR profile: {self.profile.name if self.profile else '?'}\n"
                         f"playing: {len(realtime)} shaders, pause: {self.pause_text()}")
            self.still.schedule()
        elif name == "kizunasr-toggle-ai":
            self.ai = not self.ai
            self.osd(f"KizunaSR AI on pause: {'on' if self.ai else 'off'}")
            self.still.invalidate("ai-off")
            self.still.schedule()
        elif name == "kizunasr-clear":
            self.cleared = True
            self.still.invalidate("clear")
            self.osd("KizunaSR: shaders cleared (choose a profile to restore)")
        elif name == "kizunasr-status":
            self.osd(self.status_text(), 6)
            self.emit("status", text=self.status_text())

    def pause_text(self) -> str:
        """The pause chain's name, or why there is no AI still."""
        _, pause = self.chains()
        if self.profile is None or self.still.state.height is None or self.cleared:
            return chain_label(pause)
        reason = self.still.no_still()
        return f"no AI still ({reason})" if reason else chain_label(pause)

    def status_text(self) -> str:
        realtime, _ = self.chains()
        last = self.still.state.last
        lines = [f"KizunaSR profile: {self.profile.name if self.profile else self.profile_name}"
                 + (" (cleared)" if self.cleared else ""),
                 f"source height: {self.still.state.height}, realtime shaders: {len(realtime)}",
                 f"pause: {self.pause_text()}, AI on pause: {'on' if self.ai else 'off'}"]
        if last:
            lines.append("last still: " + ", ".join(f"{k} {v:.0f} ms" for k, v in last.items()))
        return "\n".join(lines)

    def handle(self, ev: Event) -> None:
        """One event from mpv; ValueError for a malformed one (``run`` logs and skips it)."""
        kind, oid, args = ev.get("event"), ev.get("id"), ev.get("args", [])
        if kind == "property-change" and isinstance(oid, int) and oid in OBSERVED:
            self.on_property(OBSERVED[oid], ev.get("data"))
        elif kind == "client-message":
            if not isinstance(args, list):
                raise ValueError(f"client-message args are not a list: {args!r}")
            self.on_message([str(a) for a in args])
        elif kind in ("seek", "end-file", "start-file"):
            self.still.invalidate(str(kind))
        elif kind == "playback-restart":
            self.still.schedule()
        elif kind == "shutdown":
            self.stop = True

    # -- main -------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until mpv goes away."""
        try:
            self.load_profile()
            for oid, name in OBSERVED.items():
                self.ipc.observe(oid, name)
            self.emit("hello", profile=self.profile_name, ai=self.ai)
            self.still.start()
            while not self.stop:
                ev = self.ipc.events.get()
                if ev is None:
                    break
                try:
                    self.handle(ev)
                except ValueError as exc:  # one odd message (another client, a buggy script) must not end the worker
                    log.warning("ignoring a malformed mpv message %.200r: %s", ev, exc)
                except MpvError as exc:
                    log.warning("mpv refused a command while handling %.200r: %s", ev, exc)
                except Exception:  # noqa: BLE001 - nor may a bug in a handler: logged, and the next event served
                    log.exception("error while handling the mpv message %.200r", ev)
        finally:
            self.stop = True
            self.still.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 0


def serve(ipc_path: str, profile: str = "auto", ai: bool = True, debounce_ms: int = 250,
          provider: str = "auto", connect_timeout: float = 10.0, show_osd: bool = True) -> int:
    """Connect to mpv's IPC socket (retrying while mpv creates it) and serve; 0 when mpv quits."""
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            ipc = MpvIpc(ipc_path)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                log.error("cannot connect to mpv at %s: %s", ipc_path, exc)
                return 2
            time.sleep(0.1)
    try:
        return Worker(ipc, profile, ai, debounce_ms, provider, show_osd).run()
    finally:
        ipc.close()
