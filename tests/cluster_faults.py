"""`python -m tests.cluster_faults [--fail=I,J] [--hold=K] [--meet=I,J] ARGS...`: the `kizunasr` command line with
faults injected into its cluster workers, for tests/cluster/test_cluster.py (production code has no test hooks).

``--fail``: chunks that fail for good. ``--hold``: chunks whose first attempt halts halfway (after writing
hold-INDEX.pid into the work directory) until the test kills that worker; a test that removes the marker makes
the next attempt halt too. ``--meet``: chunks that each wait, before encoding, until all of them have started
(meet-INDEX markers in the work directory): so many workers get a chunk however fast one of them is.

The real driver, Ray and worker processes run; only ``ChunkEncoder`` is replaced by a subclass before the actor
class is built. The actor class is defined inside ``actor_classes()``, so Ray pickles it by value together with
the globals it names (``ChunkEncoder``, now the subclass); the subclass, defined in ``__main__``, travels by value
too, so the workers need not import this module.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cluster import worker
from kizunasr_vs.cluster.plan import Chunk
from kizunasr_vs.cluster.worker import ChunkEncoder, ChunkFailed, ChunkSpec


class FaultyEncoder(ChunkEncoder):
    """A ChunkEncoder that fails the ``fail`` chunks and halts the first attempt at each ``hold`` chunk."""

    fail: frozenset[int] = frozenset()
    hold: frozenset[int] = frozenset()
    meet: frozenset[int] = frozenset()

    def encode(self, spec: ChunkSpec, chunk: Chunk, report: Callable[[int], None] | None = None) -> str:
        if chunk.index in self.fail and not (Path(spec.work_dir) / chunk.segment_name).is_file():
            raise ChunkFailed("injected failure")
        if chunk.index in self.meet:
            (Path(spec.work_dir) / f"meet-{chunk.index}").touch()
            while not all((Path(spec.work_dir) / f"meet-{i}").exists() for i in self.meet):
                time.sleep(0.1)
        self.chunk = chunk
        return super().encode(spec, chunk, report)

    def clip(self, spec: ChunkSpec) -> vs.VideoNode:
        clip = super().clip(spec)
        chunk = self.chunk
        if chunk.index not in self.hold:
            return clip
        halfway = chunk.first + chunk.frames // 2
        marker = Path(spec.work_dir) / f"hold-{chunk.index}.pid"
        if marker.exists():  # not the first attempt
            return clip

        def frame(n: int) -> vs.VideoNode:
            if n == halfway:  # the frames before it are being encoded: ffmpeg runs, the .partial file exists
                marker.write_text(str(os.getpid()))
                while True:
                    time.sleep(1)
            return clip

        return clip.std.FrameEval(frame)


def indices(text: str) -> frozenset[int]:
    return frozenset(int(x) for x in text.split(",") if x.strip().isdigit())


def main(argv: list[str]) -> int:
    while argv and argv[0].startswith(("--fail=", "--hold=", "--meet=")):
        name, _, value = argv.pop(0)[2:].partition("=")
        setattr(FaultyEncoder, name, indices(value))
    worker.ChunkEncoder = FaultyEncoder  # type: ignore[misc]
    from kizunasr_vs.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
