"""Chunk ranges, the resumable work directory and its key, segment file names."""

from __future__ import annotations

import glob
import hashlib
import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kizunasr_vs.core.errors import InputError

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
            raise InputError(f"--chunk-frames must be at least 1, got {chunk_frames}")
        return chunk_frames
    return max(1, round(fps * DEFAULT_CHUNK_SECONDS))


def plan_chunks(first: int, last: int, size: int, cuts: list[int] | None = None) -> list[Chunk]:
    """Consecutive chunks covering [first, last), about ``size`` frames each.

    With ``cuts`` (the source's keyframes), each chunk ends at the cut nearest to ``size`` frames
    from its start when one lies within half a chunk of it, so that every chunk's decode starts
    on a keyframe; otherwise (and without cuts) chunks are exactly ``size`` frames, the last shorter.
    """
    inside = sorted(c for c in set(cuts or []) if first < c < last)
    chunks: list[Chunk] = []
    start = first
    while start < last:
        ideal = start + size
        near = inside[bisect_left(inside, start + size / 2):bisect_right(inside, start + size * 1.5)]
        end = min(near, key=lambda c: (abs(c - ideal), c)) if near else ideal
        if last - end < size / 2 and near:
            end = last  # a tail shorter than half a chunk joins this one
        end = min(end, last)
        chunks.append(Chunk(len(chunks), start, end))
        start = end
    return chunks


def work_key(source: Path, profile: dict[str, Any], settings: dict[str, Any]) -> str:
    """sha256 over the input (resolved path, size, mtime), the profile chain and the encode settings."""
    stat = source.stat()
    blob = json.dumps({"input": [str(source.resolve()), stat.st_size, stat.st_mtime_ns],
                       "profile": profile, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def work_dir(output: Path, key: str) -> Path:
    """The work directory beside ``output`` (hidden, so it is not mistaken for a result)."""
    return output.parent / f".{output.name}.kizunasr-{key}"


def other_work_dirs(output: Path, current: Path) -> list[Path]:
    """Work directories beside ``output`` other than ``current``: left by jobs for the same output with other
    settings (or input), interrupted; this job's output makes them useless."""
    found = output.parent.glob(f".{glob.escape(output.name)}.kizunasr-*")
    return sorted(p for p in found if p.is_dir() and p.resolve() != current.resolve())


def finished_segments(directory: Path, chunks: list[Chunk]) -> set[int]:
    """Indices of chunks whose segment is already in ``directory`` (segments appear only when complete)."""
    if not directory.is_dir():
        return set()
    return {c.index for c in chunks if (directory / c.segment_name).is_file()}
