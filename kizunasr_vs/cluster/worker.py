"""The chunk worker: a Ray actor that keeps its decoded source and model chain between chunks."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vapoursynth as vs

from kizunasr_vs.cluster.plan import Chunk
from kizunasr_vs.profiles.loader import Profile
from kizunasr_vs.runtime.encoder import EncodeError, EncodeSettings, encode
from kizunasr_vs.runtime.source import open_video

# Segments must start with a keyframe that nothing before it references (closed GOP), so that
# joining them by stream copy decodes exactly; ffv1 here is intra-only (-g 1) anyway.
CLOSED_GOP = {"h264": ["-flags", "+cgop"], "hevc": ["-x265-params", "log-level=error:open-gop=0"], "ffv1": []}


class ChunkFailed(RuntimeError):
    """A chunk that cannot be encoded however often it is retried (bad input, stage or ffmpeg error)."""


@dataclass(frozen=True)
class ChunkSpec:
    """What every chunk of one input shares; sent to the workers."""

    source: str
    profile: Profile
    target: tuple[int, int] | None
    provider: str
    settings: EncodeSettings
    work_dir: str
    fail_chunks: frozenset[int] = field(default_factory=frozenset)


def segment_settings(codec: str, crf: int) -> EncodeSettings:
    """Video-only settings for one segment, with a closed GOP."""
    return EncodeSettings(codec=codec, crf=crf, extra_args=list(CLOSED_GOP.get(codec, [])))


class ChunkEncoder:
    """Encodes chunks; the upscaled clip (source index, shaders, model sessions) is built once per input."""

    def __init__(self) -> None:
        self._clips: dict[tuple[Any, ...], vs.VideoNode] = {}

    def clip(self, spec: ChunkSpec) -> vs.VideoNode:
        from kizunasr_vs.profiles.upscale import upscale

        key = (spec.source, spec.profile.name, str(spec.profile.path), spec.target, spec.provider)
        if key not in self._clips:
            self._clips.clear()  # one input at a time: free the previous one's frames and sessions
            self._clips[key] = upscale(open_video(spec.source), spec.profile, spec.target, spec.provider)
        return self._clips[key]

    def encode(self, spec: ChunkSpec, chunk: Chunk, report: Any = None) -> str:
        """Encode ``chunk`` into its segment file; ``report(index, frames_done)`` is called about twice a second."""
        segment = Path(spec.work_dir) / chunk.segment_name
        if segment.is_file():
            return str(segment)
        if chunk.index in spec.fail_chunks:
            raise ChunkFailed("injected failure (KIZUNASR_CLUSTER_FAIL_CHUNKS)")
        last_report = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last_report
            now = time.monotonic()
            if report is not None and (now - last_report > 0.5 or done == total):
                last_report = now
                report(chunk.index, done)

        try:
            clip = self.clip(spec)[chunk.first:chunk.last]
            encode(clip, segment, spec.settings, progress)
        except (vs.Error, EncodeError, ValueError, OSError) as exc:
            raise ChunkFailed(str(exc)) from None
        return str(segment)


class ProgressBoard:
    """Frames done per chunk, written by the workers and read by the driver."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}

    def set(self, index: int, frames: int) -> None:
        self.done[index] = frames

    def snapshot(self) -> dict[int, int]:
        return dict(self.done)


@functools.cache
def actor_classes() -> tuple[Any, Any]:
    """The Ray actor classes (ChunkActor, ProgressActor); built on first use so Ray stays optional."""
    import ray

    @ray.remote(max_restarts=3, max_task_retries=3)
    class ChunkActor:
        """One worker: keeps its ChunkEncoder (and so its model) for all the chunks it gets."""

        def __init__(self) -> None:
            self.encoder = ChunkEncoder()

        def encode(self, spec: ChunkSpec, chunk: Chunk, board: Any) -> str:
            return self.encoder.encode(spec, chunk, lambda i, n: board.set.remote(i, n))

    progress_actor = ray.remote(num_cpus=0)(ProgressBoard)
    return ChunkActor, progress_actor
