"""The AI still on pause, once for every player: ``StillController`` talks to a small ``PlayerPort``.

The IPC worker (worker.py: mpv over its JSON socket) and `kizunasr play` (play.py: libmpv in-process) differ in
how they grab a frame, put an overlay up, take it down and write on the OSD; that is their port. Everything else
is here: what the player reports (pause, video size, video rect, file, seek) decides when a still is wanted;
a debounced job on the job thread grabs, renders the pause chain and shows the result; resume, seek, resize, a
new file or a new chain bump the generation, take the overlay down and drop any job of an older generation
(pause_job.PauseJobs). A new source size warms the chain's model up while nothing is due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import vapoursynth as vs

from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.mpv.pause_job import PauseJobs, Rect, StillRenderer, Timings, chain_label
from kizunasr_vs.profiles.loader import ProfileError, Step
from kizunasr_vs.profiles.still_rule import no_still_reason

log = logging.getLogger("kizunasr.still")

# What a still can fail on that needs a word to the user, not a traceback: a missing model or shader file, a
# profile or filter error (each message says what to do).
EXPECTED = (FileNotFoundError, ModelError, ProfileError, vs.Error)


def short(exc: BaseException) -> str:
    """The first line of an error message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class PlayerPort(Protocol):
    """What the controller needs from a player. ``show`` and ``hide`` run under the controller's job lock."""

    gone: tuple[type[BaseException], ...]  # errors meaning the player went away: logged, not shown

    def grab(self) -> np.ndarray: ...  # the decoded frame at source size, no shaders: H x W x 3 uint8 RGB
    def time_pos(self) -> float | None: ...
    def prepare(self, planes: list[np.ndarray], gen: int) -> Any: ...  # R, G, B planes -> what show takes
    def show(self, prepared: Any, rect: Rect) -> dict[str, Any]: ...  # overlay up; extra event fields
    def hide(self) -> None: ...
    def osd(self, text: str, seconds: float) -> None: ...
    def emit(self, kind: str, **data: Any) -> None: ...


@dataclass
class StillState:
    """What the controller knows about the player."""

    paused: bool = False
    width: int | None = None
    height: int | None = None
    dims: dict[str, Any] | None = None
    path: str | None = None
    overlay: bool = False
    warm_up: bool = False  # a model warm-up at the source size is pending
    last: dict[str, float] = field(default_factory=dict)  # the last still's timings


class StillController:
    """Pause, seek and resume handling, the still job and the overlay's life, for one player."""

    def __init__(self, port: PlayerPort, pause_chain: Callable[[], list[Step]], provider: str = "auto",
                 debounce_ms: int = 250, wanted: Callable[[], bool] = lambda: True,
                 realtime_chain: Callable[[], list[Step]] = lambda: []) -> None:
        """``pause_chain()`` and ``realtime_chain()``: the steps for the current source (a still is made only when
        the pause chain adds something to the realtime chain); ``wanted()``: whether stills are on (the AI toggle,
        a cleared chain)."""
        self.port, self.pause_chain, self.realtime_chain, self.wanted = port, pause_chain, realtime_chain, wanted
        self.told: str | None = None  # the chains the OSD last said have no still (said once per chain)
        self.state = StillState()
        self.jobs = PauseJobs(debounce_ms / 1000, self._run_job, self._job_failed,
                              lambda gen: port.emit("dropped", gen=gen), self._idle)
        self.renderer = StillRenderer(provider)
        self.computing = False  # the "computing" OSD line is up

    # -- what the player reports (its event thread) -----------------------------------------

    def paused(self, paused: bool) -> None:
        self.state.paused = paused
        if paused:
            self.schedule()
        else:
            self.invalidate("resume")

    def video_size(self, width: int | None, height: int | None) -> None:
        s = self.state
        if height != s.height:
            s.height, s.width = height, width
            with self.jobs.cv:
                s.warm_up = height is not None
            self.invalidate("video-params")
            self.schedule()

    def video_rect(self, dims: dict[str, Any] | None) -> None:
        """mpv's ``osd-dimensions``: the overlay is fitted to it, so a change makes a new still."""
        if dims != self.state.dims:
            self.state.dims = dims
            self.invalidate("resize")
            self.schedule()

    def new_file(self, path: str | None) -> None:
        if path != self.state.path:
            self.state.path = path
            self.invalidate("file")
            self.schedule()

    def invalidate(self, reason: str) -> None:
        """Take the overlay (and a "computing" line) down and drop any job in flight or queued."""

        def take_down() -> None:
            if self.computing:
                self.computing = False
                self.port.osd("", 0.001)
            if self.state.overlay:
                self.state.overlay = False
                self.port.hide()
                self.port.emit("overlay-removed", reason=reason, gen=self.jobs.gen)

        self.jobs.invalidate(take_down)

    def schedule(self) -> None:
        """(Re)start the debounce timer for a still, when one is wanted."""
        with self.jobs.cv:
            if self.state.paused and self.wanted():
                self.jobs.schedule()

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        self.jobs.start()

    def close(self, timeout: float = 30) -> None:
        self.jobs.close(timeout)

    # -- the job thread -----------------------------------------------------------------------

    def _idle(self) -> None:
        """While no still is due: the warm-up a new source size asked for."""
        with self.jobs.cv:
            warm, self.state.warm_up = self.state.warm_up, False
        if warm:
            self.warm_up()

    def warm_up(self) -> None:
        """Run the pause chain once on a black frame of the source size, so the first real pause finds the
        model loaded and the GPU's kernels chosen for this size (a cold first still costs seconds)."""
        s = self.state
        steps = self.pause_chain()
        if not self.wanted() or not any("model" in step for step in steps) or not s.width or not s.height:
            return
        start = time.perf_counter()
        rect = Rect.from_osd(s.dims) or Rect(0, 0, 16, 16)  # the real rect: the first pause reuses the graph
        try:
            self.renderer.render(np.zeros((s.height, s.width, 3), np.uint8), steps, rect)
        except EXPECTED as exc:  # the pause that follows says it to the user
            log.debug("warm-up skipped: %s", short(exc))
            return
        self.port.emit("warmed", chain=chain_label(steps), ms=round((time.perf_counter() - start) * 1000))

    def _job_failed(self, gen: int, exc: Exception) -> None:
        if isinstance(exc, self.port.gone):
            log.warning("pause job %d: %s", gen, exc)  # the player is going away or refused a command
            return
        self.computing = False
        if isinstance(exc, EXPECTED):
            log.warning("AI still not made: %s", short(exc))
        else:
            log.error("pause job %d failed", gen, exc_info=exc)
        self.port.osd(f"KizunaSR AI still failed: {short(exc)}", 6)
        self.port.emit("error", gen=gen, message=str(exc))

    def no_still(self) -> str | None:
        """Why the current chains give no still (None: a still adds something)."""
        return no_still_reason(self.realtime_chain(), self.pause_chain())

    def _run_job(self, gen: int) -> None:
        with self.jobs.cv:
            self.state.warm_up = False  # this job loads the model itself; a warm-up afterwards would be wasted
        steps, realtime = self.pause_chain(), self.realtime_chain()
        reason = no_still_reason(realtime, steps)
        if reason is not None:
            told = repr((realtime, steps))
            if told != self.told:
                self.told = told
                self.port.osd(f"KizunaSR: no AI still with this profile ({reason})", 4)
            self.port.emit("skipped", gen=gen, reason=f"no AI still: {reason}", height=self.state.height,
                           chain=chain_label(steps), realtime=chain_label(realtime))
            return
        rect = Rect.from_osd(self.state.dims)
        if rect is None:
            self.port.emit("skipped", gen=gen, reason="no video rect", height=self.state.height,
                           dims=self.state.dims)
            return
        label = chain_label(steps)
        self.port.emit("job-start", gen=gen, chain=label)
        with self.jobs.cv:  # an invalidation takes the line down under the same lock: never left up
            self.jobs.check(gen)
            self.computing = True
            self.port.osd(f"KizunaSR AI still: computing... ({label})", 120)
        t = Timings()
        rgb = self.port.grab()
        pos = self.port.time_pos()
        t.lap("grab")
        self.jobs.check(gen)
        planes = self.renderer.render(rgb, steps, rect)
        t.lap("inference")
        self.jobs.check(gen)
        prepared = self.port.prepare(planes, gen)
        t.lap("transfer")
        with self.jobs.cv:
            self.jobs.check(gen)
            extra = self.port.show(prepared, rect)
            self.state.overlay = True
        t.lap("display")
        self.state.last = t.as_dict()
        self.computing = False
        self.port.osd(f"KizunaSR AI: {label} ({t.total:.0f} ms)", 2)
        self.port.emit("overlay", gen=gen, chain=label, timings=t.as_dict(), rect=[rect.x, rect.y, rect.w, rect.h],
                       source=[rgb.shape[1], rgb.shape[0]], time_pos=pos, **extra)
