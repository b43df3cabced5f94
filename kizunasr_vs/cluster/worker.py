"""The chunk worker: a Ray actor that keeps its decoded source and model chain between chunks."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import vapoursynth as vs

from kizunasr_vs.cluster.plan import Chunk
from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.media.encoder import EncodeError, EncodeSettings, encode
from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.profiles.encode_graph import Upscaler, plan_encode, upscaled_settings
from kizunasr_vs.profiles.loader import Profile

# Segments must start with a keyframe that nothing before it references (closed GOP), so that
# joining them by stream copy decodes exactly; ffv1 here is intra-only (-g 1) anyway.
CLOSED_GOP = {"h264": ["-flags", "+cgop"], "hevc": ["-x265-params", "log-level=error:open-gop=0"], "ffv1": []}


class ChunkFailed(KizunaError, RuntimeError):
    """A chunk that cannot be encoded however often it is retried (bad input, stage or ffmpeg error)."""


@dataclass(frozen=True)
class ChunkSpec:
    """What every chunk of one input shares; sent to the workers. ``job`` covers the whole input (chunks count its
    frames from 0), with absolute paths; ``upscaler``'s profile is resolved (the driver decided 'auto')."""

    job: EncodeJob
    upscaler: Upscaler
    settings: EncodeSettings  # video only (``segment_settings``)
    work_dir: str

    @property
    def source(self) -> str:
        return str(self.job.input)


@dataclass(frozen=True)
class WorkerStatus:
    """Where one worker is and what it does; shown as one line of the job's progress display."""

    slot: int
    node: str
    pid: int
    gpus: tuple[str, ...] = ()
    chunk: Chunk | None = None
    done: int = 0  # frames of ``chunk`` encoded so far

    def describe(self) -> str:
        device = f"GPU {','.join(self.gpus)}" if self.gpus else "CPU"
        work = f"chunk {self.chunk.index} ({self.chunk.describe()}) {self.done}/{self.chunk.frames}" \
            if self.chunk is not None else "idle"
        return f"worker {self.slot} [{self.node} pid {self.pid} {device}]: {work}"


def segment_settings(settings: EncodeSettings) -> EncodeSettings:
    """``settings`` for one segment: the video only (the join adds the source's other streams), a closed GOP."""
    return replace(settings, copy_streams_from=None, source_start=0.0, source_duration=None,
                   extra_args=[*settings.extra_args, *CLOSED_GOP.get(settings.codec, [])])


class ChunkEncoder:
    """Encodes chunks; the upscaled clip (source index, shaders, model sessions) is built once per input."""

    def __init__(self) -> None:
        self._clips: dict[tuple[Any, ...], vs.VideoNode] = {}

    def clip(self, spec: ChunkSpec) -> vs.VideoNode:
        """The whole input upscaled (the same graph as a single-process encode: ``plan_encode``)."""
        profile = spec.upscaler.profile
        assert isinstance(profile, Profile), "the driver resolves the profile"
        key = (spec.source, profile.name, str(profile.path), spec.upscaler.target, spec.upscaler.provider)
        if key not in self._clips:
            self._clips.clear()  # one input at a time: free the previous one's frames and sessions
            self._clips[key] = plan_encode(spec.job, spec.upscaler).build()
        return self._clips[key]

    def encode(self, spec: ChunkSpec, chunk: Chunk, report: Callable[[int], None] | None = None) -> str:
        """Encode ``chunk`` into its segment file; ``report(frames_done)`` is called about twice a second."""
        segment = Path(spec.work_dir) / chunk.segment_name
        if segment.is_file():
            return str(segment)
        last_report = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last_report
            now = time.monotonic()
            if report is not None and (now - last_report > 0.5 or done == total):
                last_report = now
                report(done)

        try:
            whole = self.clip(spec)
            settings = upscaled_settings(spec.settings, whole)
            # not checked here: the join checks the whole output
            encode(whole[chunk.first:chunk.last], segment, settings, progress, overwrite=True, check=False)
        except (vs.Error, EncodeError, ValueError, OSError) as exc:
            raise ChunkFailed(str(exc)) from None
        return str(segment)


class ProgressBoard:
    """The latest status of every worker, written by the workers and read by the driver."""

    def __init__(self) -> None:
        self.workers: dict[int, WorkerStatus] = {}

    def set(self, status: WorkerStatus) -> None:
        self.workers[status.slot] = status

    def snapshot(self) -> dict[int, WorkerStatus]:
        return dict(self.workers)


@functools.cache
def actor_classes() -> tuple[Any, Any]:
    """The Ray actor classes (ChunkActor, ProgressActor); built on first use so Ray stays optional."""
    import ray

    # No restarts by Ray: the driver puts a dead worker's chunk back in its queue and starts a replacement
    # (job._dispatch). With Ray's restarts and task retries, losing a node failed the whole job (the retry found
    # the actor "temporarily unavailable"), and a restart can only run where the resources are free.
    @ray.remote(max_restarts=0, max_task_retries=0)
    class ChunkActor:
        """One worker: keeps its ChunkEncoder (and so its model) for all the chunks it gets."""

        def __init__(self, slot: int, board: Any) -> None:
            self.encoder = ChunkEncoder()
            self.board = board
            gpus = tuple(str(g) for g in ray.get_gpu_ids())
            self.status = WorkerStatus(slot, ray.util.get_node_ip_address(), os.getpid(), gpus)
            board.set.remote(self.status)

        def ready(self) -> None:
            """Answers once the worker runs (placed on a node, started)."""

        def encode(self, spec: ChunkSpec, chunk: Chunk) -> str:
            def report(done: int) -> None:
                self.board.set.remote(replace(self.status, chunk=chunk, done=done))

            report(0)
            try:
                return self.encoder.encode(spec, chunk, report)
            finally:
                self.board.set.remote(self.status)

    progress_actor = ray.remote(num_cpus=0)(ProgressBoard)
    return ChunkActor, progress_actor
