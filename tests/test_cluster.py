"""Distributed encoding over Ray (`--cluster local:N`): lossless equality, chunking, resume, batch failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_encode_cli import make_clip, streams

pytest.importorskip("ray", reason="ray is not installed (pip install 'kizunasr[cluster]')")
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

# Runs `kizunasr` with the `batch` sub-command wired in even where cli/main.py does not list it yet.
SHIM = """
import sys
from kizunasr_vs.cli import batch
import importlib
main_module = importlib.import_module("kizunasr_vs.cli.main")
parser = main_module.build_parser()
choices = parser._subparsers._group_actions[0]
if "batch" not in choices.choices:
    batch.add_parser(choices)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.run(args))
"""


def kizunasr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SHIM, *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=600)


def frame_hashes(path: Path) -> list[str]:
    """The md5 of every decoded video frame, in order."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 24-frame clip with audio and subtitles, a cheap profile (2x bilinear) and its single-process encode."""
    folder = tmp_path_factory.mktemp("cluster")
    clip = make_clip(folder, 96, 64, 24)
    profile = folder / "tiny.json"
    chain = [{"resize": {"scale": 2, "kernel": "bilinear"}}]
    profile.write_text(json.dumps({"name": "tiny", "description": "test", "requires": {"gpu": False},
                                   "ranges": [{"max_height": None, "realtime": [], "pause": [],
                                               "encode": chain}]}))
    reference = folder / "single.mkv"
    result = kizunasr("encode", str(clip), str(reference), "--profile", str(profile), "--codec", "ffv1")
    assert result.returncode == 0, result.stderr
    return {"clip": clip, "profile": profile, "reference": reference, "dir": folder}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_local_cluster_ffv1_equals_single_process(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "dist.mkv"
    # 24 frames in chunks of 7: 7 + 7 + 7 + 3, every frame exactly once
    result = kizunasr("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
                      "--cluster", "local:2", "--chunk-frames", "7")
    assert result.returncode == 0, result.stderr
    assert "4 chunks, 4 encoded, 0 reused" in result.stderr
    expected = frame_hashes(media["reference"])
    assert len(expected) == 24
    assert frame_hashes(out) == expected
    found = streams(out)
    assert {s["codec_type"] for s in found} == {"video", "audio", "subtitle"}
    video = [s for s in found if s["codec_type"] == "video"][0]
    assert (video["codec_name"], video["width"], video["height"]) == ("ffv1", 192, 128)
    assert leftovers(tmp_path) == []  # work directory removed, no temporary file


def test_failed_chunk_then_resume_encodes_only_missing(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "resumed.mkv"
    args = ("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
            "--cluster", "local:2", "--chunk-frames", "6")
    failed = kizunasr(*args, env={"KIZUNASR_CLUSTER_FAIL_CHUNKS": "2"})
    assert failed.returncode != 0
    assert media["clip"].name in failed.stderr and "frames 12-17" in failed.stderr
    assert "injected failure" in failed.stderr
    assert not out.exists()
    work = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(work) == 1
    kept = len(list(work[0].glob("seg_*.mkv")))
    assert 2 <= kept <= 3  # chunks 0 and 1 (and 3 if it was running) finished; chunk 2 did not

    result = kizunasr(*args)
    assert result.returncode == 0, result.stderr
    assert f"4 chunks, {4 - kept} encoded, {kept} reused" in result.stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])
    assert leftovers(tmp_path) == [] and not work[0].exists()


def test_batch_with_a_corrupt_input(media: dict[str, Path], tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    first = shutil.copy(media["clip"], inputs / "ep1.mkv")
    second = shutil.copy(media["clip"], inputs / "ep2.mkv")
    bad = inputs / "ep3_corrupt.mkv"
    bad.write_bytes(os.urandom(4096))
    outs = tmp_path / "out"
    outs.mkdir()
    result = kizunasr("batch", str(first), str(bad), str(second), "--out-dir", str(outs),
                      "--profile", str(media["profile"]), "--codec", "ffv1", "--cluster", "local:2",
                      "--chunk-frames", "12")
    assert result.returncode == 1, result.stderr
    assert sorted(p.name for p in outs.iterdir()) == ["ep1.mkv", "ep2.mkv"]
    assert "2 of 3 inputs encoded" in result.stderr
    assert "FAILED" in result.stderr and "ep3_corrupt.mkv" in result.stderr
    assert frame_hashes(outs / "ep2.mkv") == frame_hashes(media["reference"])
