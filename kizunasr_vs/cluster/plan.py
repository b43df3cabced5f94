"""Chunk ranges, the resumable work directory and its key, segment file names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CHUNK_SECONDS = 10.0


@dataclass(frozen=True)
class Chunk:
    """Frames [first, last) of the (trimmed) source, encoded into one segment."""

    index: int
    first: int
    last: int

    @property
    def frames(self) -> int:
        return self.last - self.first

    @property
    def segment_name(self) -> str:
        return f"seg_{self.first:09d}_{self.last:09d}.mkv"

    def describe(self) -> str:
        return f"frames {self.first}-{self.last - 1}"


def chunk_size(fps: float, chunk_frames: int | None) -> int:
    """``chunk_frames`` if given, else about ten seconds of frames."""
    if chunk_frames is not None:
        if chunk_frames < 1:
            raise ValueError(f"--chunk-frames must be at least 1, got {chunk_frames}")
        return chunk_frames
    return max(1, round(fps * DEFAULT_CHUNK_SECONDS))


def plan_chunks(first: int, last: int, size: int) -> list[Chunk]:
    """Consecutive chunks of ``size`` frames covering [first, last); the last may be shorter."""
    return [Chunk(i, start, min(start + size, last)) for i, start in enumerate(range(first, last, size))]


def work_key(source: Path, profile: dict[str, Any], settings: dict[str, Any]) -> str:
    """sha256 over the input (resolved path, size, mtime), the profile chain and the encode settings."""
    stat = source.stat()
    blob = json.dumps({"input": [str(source.resolve()), stat.st_size, stat.st_mtime_ns],
                       "profile": profile, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def work_dir(output: Path, key: str) -> Path:
    """The work directory beside ``output`` (hidden, so it is not mistaken for a result)."""
    return output.parent / f".{output.name}.kizunasr-{key}"


def finished_segments(directory: Path, chunks: list[Chunk]) -> set[int]:
    """Indices of chunks whose segment is already in ``directory`` (segments appear only when complete)."""
    if not directory.is_dir():
        return set()
    return {c.index for c in chunks if (directory / c.segment_name).is_file()}
