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
  chain (pause_job.py; the OSD says "AI still: computing..." meanwhile), scales it to the video rect
  from ``osd-dimensions`` and shows it with ``overlay-add`` (BGRA file, copied by mpv at once); a
  missing model or shader is one OSD line and one log line (no traceback);
* resume, seek, file change, resize, profile change or AI off bump a generation counter and send
  ``overlay-remove``. A job checks its generation after every phase and again, under the same lock
  as the invalidation, right before ``overlay-add``; results of an old generation are dropped,
  never shown. One job runs at a time; newer requests replace queued ones.
* status goes out as ``script-message kizunasr-event <json>`` (for tests and other scripts) and
  to stderr; user-facing text through ``show-text``.

The worker never blocks mpv: IPC commands are asynchronous on mpv's side, and the worker exits
when the socket closes (mpv quit).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import vapoursynth as vs

from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.mpv.pause_job import (
    PauseJobs,
    Rect,
    StillRenderer,
    Timings,
    chain_label,
    load_rgb,
    to_bgra,
    write_bgra,
)
from kizunasr_vs.mpv.protocol import Event, MpvError, MpvIpc
from kizunasr_vs.profiles.loader import Profile, ProfileError, Step

log = logging.getLogger("kizunasr.worker")

OVERLAY_ID = 42
OBSERVED = {1: "pause", 2: "video-params", 3: "osd-dimensions", 4: "path"}
MESSAGES = ("kizunasr-profile", "kizunasr-toggle-ai", "kizunasr-clear", "kizunasr-status")


@dataclass
class State:
    """What the worker knows about the player."""

    paused: bool = False
    height: int | None = None
    width: int | None = None
    warm_up: bool = False  # a model warm-up at the source size is pending
    dims: dict[str, Any] | None = None
    path: str | None = None
    cleared: bool = False
    overlay: bool = False
    last: dict[str, Any] = field(default_factory=dict)


def resolve(profile: str) -> Profile:
    """A profile by name, 'auto', 'auto:<preference>' or path."""
    from kizunasr_vs.profiles.upscale import resolve_profile

    return resolve_profile(profile)


# What a still can fail on that needs a word to the user, not a traceback: a missing model or shader file, a
# profile or filter error (each message says what to do).
EXPECTED = (FileNotFoundError, ModelError, ProfileError, vs.Error)


def short(exc: BaseException) -> str:
    """The first line of an error message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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


class Worker:
    """One mpv connection: the event loop (main thread) and the pause job thread."""

    def __init__(self, ipc: MpvIpc, profile: str, ai: bool = True, debounce_ms: int = 250,
                 provider: str = "auto", show_osd: bool = True) -> None:
        self.ipc = ipc
        self.show_osd = show_osd
        self.profile_name = profile
        self.profile: Profile | None = None
        self.ai = ai
        self.provider = provider
        self.state = State()
        self.jobs = PauseJobs(debounce_ms / 1000, self.run_job, self.job_failed,
                              lambda gen: self.emit("dropped", gen=gen), self.idle)
        self.renderer = StillRenderer(provider)
        self.tmp = Path(tempfile.mkdtemp(prefix="kizunasr-worker-"))
        self.stop = False
        self.computing = False  # the "computing" OSD line is up

    # -- output -----------------------------------------------------------------------------

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
        if self.profile is None or self.state.height is None or self.state.cleared:
            return [], []
        try:
            r = self.profile.for_height(self.state.height)
        except ProfileError as exc:
            self.osd(f"KizunaSR: {exc}", 6)
            return [], []
        return r.realtime, r.pause

    # -- generations ------------------------------------------------------------------------

    def invalidate(self, reason: str) -> None:
        """Drop the shown overlay and any job in flight or queued."""

        def remove_overlay() -> None:
            if self.computing:
                self.computing = False
                self.osd("", 0.001)
            if self.state.overlay:
                self.state.overlay = False
                with contextlib.suppress(MpvError):
                    self.ipc.send(["overlay-remove", OVERLAY_ID], wait=False)
                self.emit("overlay-removed", reason=reason, gen=self.jobs.gen)

        self.jobs.invalidate(remove_overlay)

    def schedule(self) -> None:
        """(Re)start the debounce timer for a pause job, when a still is wanted."""
        with self.jobs.cv:
            if self.state.paused and self.ai and not self.state.cleared:
                self.jobs.schedule()

    # -- events -----------------------------------------------------------------------------

    def on_property(self, name: str, value: Any) -> None:
        s = self.state
        if name == "pause":
            s.paused = bool(value)
            if s.paused:
                self.schedule()
            else:
                self.invalidate("resume")
        elif name == "video-params":
            width, height = _video_size(value)
            if height != s.height:
                s.height, s.width = height, width
                with self.jobs.cv:
                    s.warm_up = height is not None
                self.invalidate("video-params")
                self.schedule()
        elif name == "osd-dimensions":
            if value is not None and not (isinstance(value, dict) and all(map(_is_number, value.values()))):
                raise ValueError(f"osd-dimensions is not a map of numbers: {value!r}")
            if value != s.dims:
                s.dims = value
                self.invalidate("resize")
                self.schedule()
        elif name == "path" and value != s.path:
            if value is not None and not isinstance(value, str):
                raise ValueError(f"path is not a string: {value!r}")
            s.path = value
            self.invalidate("file")
            self.schedule()

    def on_message(self, args: list[str]) -> None:
        if not args or args[0] not in MESSAGES:
            return
        name = args[0]
        if name == "kizunasr-profile" and len(args) > 1:
            self.profile_name = args[1]
            self.state.cleared = False
            self.invalidate("profile")
            if self.load_profile():
                realtime, pause = self.chains()
                self.osd(f"KizunaSR profile: {self.profile.name if self.profile else '?'}\n"
                         f"playing: {len(realtime)} shaders, pause: {chain_label(pause)}")
            self.schedule()
        elif name == "kizunasr-toggle-ai":
            self.ai = not self.ai
            self.osd(f"KizunaSR AI on pause: {'on' if self.ai else 'off'}")
            self.invalidate("ai-off")
            self.schedule()
        elif name == "kizunasr-clear":
            self.state.cleared = True
            self.invalidate("clear")
            self.osd("KizunaSR: shaders cleared (choose a profile to restore)")
        elif name == "kizunasr-status":
            self.osd(self.status_text(), 6)
            self.emit("status", text=self.status_text())

    def status_text(self) -> str:
        realtime, pause = self.chains()
        last = self.state.last
        lines = [f"KizunaSR profile: {self.profile.name if self.profile else self.profile_name}"
                 + (" (cleared)" if self.state.cleared else ""),
                 f"source height: {self.state.height}, realtime shaders: {len(realtime)}",
                 f"pause: {chain_label(pause)}, AI on pause: {'on' if self.ai else 'off'}"]
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
            self.invalidate(kind)
        elif kind == "playback-restart":
            self.schedule()
        elif kind == "shutdown":
            self.stop = True

    # -- the pause job ----------------------------------------------------------------------

    def idle(self) -> None:
        """On the job thread while no still is due: the warm-up a new source size asked for."""
        with self.jobs.cv:
            warm, self.state.warm_up = self.state.warm_up, False
        if warm:
            self.warm_up()

    def warm_up(self) -> None:
        """Run the pause chain once on a black frame of the source size, so the first real pause finds the
        model loaded and the GPU's kernels chosen for this size (a cold first still costs seconds)."""
        _, steps = self.chains()
        if not self.ai or not any("model" in step for step in steps) or not self.state.width:
            return
        start = time.perf_counter()
        rect = Rect.from_osd(self.state.dims) or Rect(0, 0, 16, 16)  # the real rect: the first pause reuses the graph
        try:
            self.renderer.render(np.zeros((self.state.height or 0, self.state.width, 3), np.uint8), steps, rect)
        except EXPECTED as exc:  # the pause that follows says it to the user
            log.debug("warm-up skipped: %s", short(exc))
            return
        self.emit("warmed", chain=chain_label(steps), ms=round((time.perf_counter() - start) * 1000))

    def job_failed(self, gen: int, exc: Exception) -> None:
        if isinstance(exc, MpvError):
            log.warning("pause job %d: %s", gen, exc)  # mpv is going away or refused a command
            return
        self.computing = False
        if isinstance(exc, EXPECTED):
            log.warning("AI still not made: %s", short(exc))
        else:
            log.error("pause job %d failed", gen, exc_info=exc)
        self.osd(f"KizunaSR AI still failed: {short(exc)}", 6)
        self.emit("error", gen=gen, message=str(exc))

    def grab(self, shot: Path) -> None:
        """The decoded frame on screen at source size: ``screenshot-sw`` skips the GPU renderer (and our shaders)."""
        sw = self.ipc.get("screenshot-sw", False)
        if not sw:
            self.ipc.send(["set_property", "screenshot-sw", True], wait=False)
        try:
            self.ipc.send(["screenshot-to-file", str(shot), "video"])
        finally:
            if not sw:
                self.ipc.send(["set_property", "screenshot-sw", False], wait=False)

    def run_job(self, gen: int) -> None:
        with self.jobs.cv:
            self.state.warm_up = False  # this job loads the model itself; a warm-up afterwards would be wasted
        _, steps = self.chains()
        rect = Rect.from_osd(self.state.dims)
        if not steps or rect is None:
            self.emit("skipped", gen=gen, reason="no pause chain" if not steps else "no video rect",
                      height=self.state.height, dims=self.state.dims)
            return
        label = chain_label(steps)
        self.emit("job-start", gen=gen, chain=label)
        self.computing = True
        self.osd(f"KizunaSR AI still: computing... ({label})", 120)
        t = Timings()
        shot = self.tmp / f"grab_{gen}.png"
        try:
            self.grab(shot)
            pos = self.ipc.get("time-pos")
            self.jobs.check(gen)
            rgb = load_rgb(shot)
        finally:
            shot.unlink(missing_ok=True)
        t.lap("grab")
        self.jobs.check(gen)
        data = to_bgra(self.renderer.render(rgb, steps, rect))
        t.lap("inference")
        self.jobs.check(gen)
        raw = self.tmp / f"overlay_{gen}.bgra"
        write_bgra(raw, data)
        t.lap("transfer")
        with self.jobs.cv:
            self.jobs.check(gen)
            self.ipc.send({"name": "overlay-add", "id": OVERLAY_ID, "x": rect.x, "y": rect.y, "file": str(raw),
                           "offset": 0, "fmt": "bgra", "w": rect.w, "h": rect.h, "stride": rect.w * 4}, timeout=5)
            self.state.overlay = True
        t.lap("display")
        for old in self.tmp.glob("overlay_*.bgra"):
            if old != raw:
                old.unlink(missing_ok=True)
        self.state.last = t.as_dict()
        self.computing = False
        self.osd(f"KizunaSR AI: {label} ({t.total:.0f} ms)", 2)
        self.emit("overlay", gen=gen, chain=label, timings=t.as_dict(), rect=[rect.x, rect.y, rect.w, rect.h],
                  source=[rgb.shape[1], rgb.shape[0]], time_pos=pos, file=str(raw))

    # -- main -------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until mpv goes away."""
        try:
            self.load_profile()
            for oid, name in OBSERVED.items():
                self.ipc.observe(oid, name)
            self.emit("hello", profile=self.profile_name, ai=self.ai)
            self.jobs.start()
            while not self.stop:
                ev = self.ipc.events.get()
                if ev is None:
                    break
                try:
                    self.handle(ev)
                except ValueError as exc:  # one odd message (another client, a buggy script) must not end the worker
                    log.debug("ignoring a malformed mpv message %.200r: %s", ev, exc)
        finally:
            self.stop = True
            self.jobs.close()
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
