"""One input encoded over the cluster: plan chunks, skip finished ones, dispatch, join, clean up."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vapoursynth as vs

from kizunasr_vs.cluster.address import ClusterError, import_ray, worker_slots
from kizunasr_vs.cluster.lock import holding, remove_stale
from kizunasr_vs.cluster.plan import (
    Chunk,
    chunk_size,
    finished_segments,
    other_work_dirs,
    plan_chunks,
    work_dir,
    work_key,
)
from kizunasr_vs.cluster.worker import ChunkFailed, ChunkSpec, WorkerStatus, actor_classes, segment_settings
from kizunasr_vs.media.encoder import EncodeError, EncodeSettings
from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.media.join import join_segments
from kizunasr_vs.media.source import keyframe_indices
from kizunasr_vs.media.span import fps_of
from kizunasr_vs.profiles.encode_graph import Upscaler, plan_encode

log = logging.getLogger(__name__)

DEATHS_PER_CHUNK = 3  # a chunk whose worker dies this often fails the job (it is likely what kills them)

Progress = Callable[[int, int, list[WorkerStatus]], None]
"""``progress(frames_done, frames_total, workers)``, called about twice a second."""


@dataclass
class ClusterJob:
    """One encode (input, output, frames, codec) by ``upscaler`` over the connected Ray cluster. Paths must be the
    same on every node; the input must be a file."""

    encode: EncodeJob
    upscaler: Upscaler = field(default_factory=Upscaler)
    chunk_frames: int | None = None  # None: about 10 s, cut at the source's keyframes
    workers: int | None = None  # at most this many workers (None: one per GPU, or per CPU without GPUs)
    gpus_per_worker: float | None = None  # share of a GPU per worker (0.5: two per card)

    @property
    def input(self) -> Path:
        if self.encode.input is None:
            raise ClusterError("a cluster job encodes a file; the built-in sample has none")
        return self.encode.input


@dataclass
class JobResult:
    output: Path
    chunks: int
    encoded: int  # chunks encoded by this run
    reused: int  # chunks found finished in the work directory (resume)
    frames: int
    seconds: float


def _prepare(job: ClusterJob, source: vs.VideoNode | None) -> tuple[ChunkSpec, list[Chunk], EncodeSettings]:
    """Validate the job in the driver (fails early, before any cluster time, and loads no model); the spec, the
    chunks and the settings of the join."""
    job.encode.check_container()
    plan = plan_encode(job.encode, job.upscaler, source, fit_memory=False)  # each worker fits its own memory
    if plan.settings.frame_times is not None:
        raise ClusterError(f"{job.input}: it has a variable frame rate, which a cluster job cannot keep yet; encode "
                           "it without --cluster")
    first, last = plan.first, plan.first + plan.source.num_frames
    fps = fps_of(plan.source)
    upscaler = dataclasses.replace(job.upscaler, profile=plan.profile)  # 'auto' decided here, once for all workers
    settings = segment_settings(plan.settings)
    key = work_key(job.input, {"name": plan.profile.name, "chain": plan.steps},
                   {"target": upscaler.target, "provider": upscaler.provider, "video": settings.video_args(),
                    "extra": settings.extra_args, "range": [first, last]})
    whole = dataclasses.replace(job.encode, input=job.input.resolve(), start=None, end=None)  # chunks count from 0
    spec = ChunkSpec(whole, upscaler, settings, str(work_dir(job.encode.output, key).resolve()))
    cuts = keyframe_indices(job.input) if job.chunk_frames is None else None
    return spec, plan_chunks(first, last, chunk_size(fps, job.chunk_frames), cuts), plan.settings


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return str(cause) if isinstance(cause, ChunkFailed) else str(exc).strip().splitlines()[-1]


def _on_this_node(ray: Any, actor_class: Any) -> Any:
    """``actor_class`` placed on the driver's own node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    return actor_class.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False))


class _Workers:
    """The chunk actors of one job: those ready for a chunk, those still starting (a replacement whose node may
    never have room is simply never given work), and each actor's slot."""

    def __init__(self, ray: Any, actor_class: Any, resources: dict[str, float], board: Any) -> None:
        self.ray, self.actor_class, self.resources, self.board = ray, actor_class, resources, board
        self.idle: list[Any] = []
        self.starting: dict[Any, Any] = {}  # ready() ref -> actor
        self.slots: dict[Any, int] = {}

    def start(self, slot: int) -> None:
        actor = self.actor_class.options(**self.resources).remote(slot, self.board)
        self.slots[actor] = slot
        self.starting[actor.ready.remote()] = actor

    def started(self, ref: Any) -> None:
        """A ready() answer: the actor joins the idle ones, or is dropped if it could not start."""
        actor = self.starting.pop(ref)
        try:
            self.ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - RayActorError, RuntimeEnvSetupError...
            log.warning("worker %d could not start: %s", self.slots[actor], _error_text(exc))
            return
        self.idle.append(actor)

    def kill_all(self) -> None:
        for actor in self.slots:
            self.ray.kill(actor)


def _dispatch(job: ClusterJob, spec: ChunkSpec, todo: list[Chunk], done_frames: int, total: int,
              progress: Progress | None) -> None:
    """Run ``todo`` on one actor per worker slot; raises ClusterError at the first failed chunk (after the chunks
    already running have finished, so that their segments are kept for a rerun).

    A worker that dies (SIGKILL, out of memory, its node lost) takes no segment with it: its chunk goes back in the
    queue, up to ``DEATHS_PER_CHUNK`` times, and a replacement worker is started, which gets chunks once it runs.
    """
    ray = import_ray()
    chunk_actor, progress_actor = actor_classes()
    slots, resources = worker_slots(job.workers, job.gpus_per_worker)
    board = _on_this_node(ray, progress_actor).remote()  # a lost worker node must not take the board with it
    workers = _Workers(ray, chunk_actor, resources, board)
    for slot in range(min(slots, len(todo))):
        workers.start(slot)
    pending = list(reversed(todo))
    running: dict[Any, tuple[Any, Chunk]] = {}
    finished: set[int] = set()
    deaths: Counter[int] = Counter()
    failure: tuple[Chunk, str] | None = None
    try:
        while running or (pending and failure is None):
            if not (running or workers.starting or workers.idle):
                raise ClusterError(f"{spec.source}: no worker could be started on the cluster")
            ready, _ = ray.wait([*running, *workers.starting], num_returns=1, timeout=0.5)
            for ref in ready:
                if ref in workers.starting:
                    workers.started(ref)
                    continue
                actor, chunk = running.pop(ref)
                try:
                    ray.get(ref)
                    finished.add(chunk.index)
                    workers.idle.append(actor)
                except ray.exceptions.RayActorError as exc:  # the worker process died; the chunk did not fail
                    deaths[chunk.index] += 1
                    if deaths[chunk.index] >= DEATHS_PER_CHUNK:
                        failure = failure or (chunk, f"its worker died {DEATHS_PER_CHUNK} times: {_error_text(exc)}")
                    else:
                        log.warning("worker %d died in chunk %d (%s); the chunk goes back in the queue",
                                    workers.slots[actor], chunk.index, _error_text(exc))
                        pending.append(chunk)
                    workers.start(workers.slots[actor])
                except Exception as exc:  # noqa: BLE001 - RayTaskError wrapping ChunkFailed...
                    failure = failure or (chunk, _error_text(exc))
                    workers.idle.append(actor)
            while workers.idle and pending and failure is None:
                actor, chunk = workers.idle.pop(), pending.pop()
                running[actor.encode.remote(spec, chunk)] = (actor, chunk)
            if progress is not None:
                states = sorted(ray.get(board.snapshot.remote()).values(), key=lambda w: w.slot)
                frames = sum(c.frames for c in todo if c.index in finished)
                frames += sum(w.done for w in states if w.chunk is not None and w.chunk.index not in finished)
                progress(min(total, done_frames + frames), total, states)
    finally:
        workers.kill_all()
        ray.kill(board)
    if failure is not None:
        chunk, cause = failure
        raise ClusterError(f"{spec.source}: chunk {chunk.index} ({chunk.describe()}) failed: {cause}")


def run_job(job: ClusterJob, progress: Progress | None = None,
            source: vs.VideoNode | None = None) -> JobResult:
    """Encode one input over the connected cluster (see ``connect``); returns what was done.

    ``source`` may be the input already opened with ``open_video`` (saves indexing it again).
    Raises ClusterError naming the input (and the chunk's frame range when a chunk failed);
    the output is then not written, and the finished segments stay for a rerun. Work folders that
    interrupted runs for the same output with other settings left are named, and removed on success.
    The work folder is locked while the job runs: WorkFolderBusy (a ClusterError) when another job for the same
    output runs. Ctrl-C or SIGTERM stop it, keeping the finished segments.
    """
    began = time.monotonic()
    path, output = job.input, job.encode.output
    try:
        spec, chunks, join_settings = _prepare(job, source)
    except (vs.Error, ValueError, EncodeError, OSError) as exc:
        raise ClusterError(f"{path}: {exc}") from exc
    directory = Path(spec.work_dir)
    stale = other_work_dirs(output, directory)
    with holding(directory, output, stale):  # for the job's life; WorkFolderBusy if another job runs for output
        return _encode_locked(job, spec, chunks, join_settings, stale, progress, began)


def _encode_locked(job: ClusterJob, spec: ChunkSpec, chunks: list[Chunk], join_settings: EncodeSettings,
                   stale: list[Path], progress: Progress | None, began: float) -> JobResult:
    """``run_job`` once it holds the work folder: encode what is missing, join, remove the work folders."""
    path, output, directory = job.input, job.encode.output, Path(spec.work_dir)
    if stale:
        log.warning("%s: work folders of interrupted runs with other settings (removed when this job has written "
                    "%s): %s", path.name, output, ", ".join(str(p) for p in stale))
    done = finished_segments(directory, chunks)
    todo = [c for c in chunks if c.index not in done]
    total = sum(c.frames for c in chunks)
    done_frames = total - sum(c.frames for c in todo)
    log.info("%s: %d chunks, %d to encode, %d already finished", path.name, len(chunks), len(todo), len(done))
    if progress is not None:
        progress(done_frames, total, [])
    if todo:
        try:
            _dispatch(job, spec, todo, done_frames, total, progress)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (address.Terminated): say what is kept
            kept = len(finished_segments(directory, chunks))
            raise type(exc)(f"{path.name}: stopped; {kept} of {len(chunks)} segments are finished and kept in "
                            f"{directory}: the same command goes on from there") from None
    missing = [c for c in chunks if not (directory / c.segment_name).is_file()]
    if missing:
        raise ClusterError(f"{path}: segments missing after encoding: {missing[0].describe()}")
    try:
        join_segments([directory / c.segment_name for c in chunks], output, join_settings, directory,
                      job.encode.overwrite, total)
    except (EncodeError, OSError) as exc:
        raise ClusterError(f"{path}: {exc}") from exc
    shutil.rmtree(directory, ignore_errors=True)
    for folder in stale:
        remove_stale(folder)
    return JobResult(output, len(chunks), len(todo), len(done), total, time.monotonic() - began)
