"""Planning a distributed encode, without Ray: chunks on keyframes, GPU shares per worker, keyframes read
from the packets (ffmpeg)."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from kizunasr_vs.cluster.address import ClusterError, plan_slots
from kizunasr_vs.cluster.plan import plan_chunks
from kizunasr_vs.media.source import keyframe_indices


def test_chunks_end_on_keyframes_near_the_chunk_size() -> None:
    keyframes = [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000]
    chunks = plan_chunks(0, 2158, 240, keyframes)
    assert [(c.first, c.last) for c in chunks] == [(k, k + 250) for k in keyframes[:-1]] + [(2000, 2158)]
    # a range starting between keyframes: the first chunk runs to the next keyframe
    assert [(c.first, c.last) for c in plan_chunks(100, 700, 240, keyframes)] == [(100, 250), (250, 500), (500, 700)]
    # keyframes too far from the chunk size are ignored
    assert [c.frames for c in plan_chunks(0, 1000, 100, [0, 900])] == [100] * 10


@pytest.mark.parametrize(("first", "last", "size"), [(0, 24, 7), (3, 100, 10), (0, 1, 5), (5, 17, 1)])
def test_chunks_cover_every_frame_once(first: int, last: int, size: int) -> None:
    chunks = plan_chunks(first, last, size, [0, 6, 13, 40, 41, 99])
    assert [f for c in chunks for f in range(c.first, c.last)] == list(range(first, last))
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunks_for_random_keyframes_are_non_empty_ordered_and_bounded() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        first, size = rng.randrange(0, 50), rng.randrange(1, 40)
        last = first + rng.randrange(1, 400)
        cuts = sorted(rng.sample(range(0, last + 20), rng.randrange(0, 30)))
        chunks = plan_chunks(first, last, size, cuts)
        assert chunks[0].first == first and chunks[-1].last == last
        assert all(c.first < c.last for c in chunks)
        assert all(a.last == b.first for a, b in zip(chunks, chunks[1:], strict=False))
        assert all(c.frames < 2 * size + 1 for c in chunks)


@pytest.mark.parametrize(("gpus", "cpus", "workers", "share", "expected"), [
    (0, 2, None, None, (2, {"num_cpus": 1.0})),
    (0, 8, 3, None, (3, {"num_cpus": 1.0})),
    (1, 16, None, None, (1, {"num_gpus": 1.0, "num_cpus": 0.0})),
    (1, 16, 2, None, (2, {"num_gpus": 0.5, "num_cpus": 0.0})),  # two actors on one card
    (2, 16, 3, None, (3, {"num_gpus": 0.5, "num_cpus": 0.0})),  # 2 + 1: every request fits one card
    (2, 16, None, 0.25, (8, {"num_gpus": 0.25, "num_cpus": 0.0})),
    (8, 128, None, None, (8, {"num_gpus": 1.0, "num_cpus": 0.0})),
])
def test_worker_slots_fit_whole_cards(gpus: float, cpus: float, workers: int | None, share: float | None,
                                      expected: tuple[int, dict[str, float]]) -> None:
    assert plan_slots(gpus, cpus, workers, share) == expected


def test_gpu_shares_that_do_not_divide_a_card_are_refused() -> None:
    with pytest.raises(ClusterError, match="1 or 1/k"):
        plan_slots(2, 16, None, 0.4)  # 2.5 per card: a worker that could never start


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_keyframe_indices_read_from_the_packets(tmp_path: Path) -> None:
    clip = tmp_path / "gop.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=24", "-frames:v", "30",
                    "-c:v", "libx264", "-bf", "2", "-g", "12", "-keyint_min", "12", "-sc_threshold", "0",
                    str(clip)], check=True)
    assert keyframe_indices(clip) == [0, 12, 24]
    assert keyframe_indices(tmp_path / "missing.mp4") == []
