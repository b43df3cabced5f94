"""Encodes that play right, checked with ffprobe and ffmpeg as a player reads them: the picture's shape with
--target and for anamorphic sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

RESIZE_2X = {"name": "resize2x", "description": "a plain 2x resize", "requires": {},
             "ranges": [{"max_height": None, "realtime": [], "pause": [],
                         "encode": [{"resize": {"scale": 2, "kernel": "bilinear"}}]}]}


def kizunasr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kizunasr_vs", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=900)


def resize_profile(folder: Path) -> Path:
    path = folder / "resize2x.json"
    path.write_text(json.dumps(RESIZE_2X))
    return path


def video_info(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["streams"][0]


def display_aspect(info: dict) -> Fraction:
    """Width x sample aspect / height, as a player shows the frames."""
    sar = info.get("sample_aspect_ratio", "1:1")
    num, den = (int(v) for v in sar.split(":")) if sar not in ("0:1", "N/A") else (1, 1)
    return Fraction(info["width"] * num, info["height"] * den)


def white_source(folder: Path, width: int, height: int, sar: str = "1/1", frames: int = 3) -> Path:
    """A white picture (``sar`` its sample aspect ratio): the padding an encode adds is what is not white."""
    out = folder / f"white_{width}x{height}_{sar.replace('/', '-')}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=white:s={width}x{height}:r=24",
                    "-frames:v", str(frames), "-vf", f"setsar={sar}", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    "-qp", "0", str(out)], check=True)
    return out


def picture_box(path: Path) -> tuple[int, int]:
    """Width and height of the part of frame 0 that is not black (luma above 64 of 255)."""
    info = video_info(path)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", "format=gray",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    luma = np.frombuffer(raw, np.uint8).reshape(info["height"], info["width"])
    rows, cols = np.nonzero(luma > 64)
    return int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(("size", "sar", "target", "picture"), [
    ((640, 480), "1/1", "1920x1080", (1440, 1080)),  # 4:3 in 16:9: pillarboxed
    ((640, 360), "1/1", "1920x1440", (1920, 1080)),  # 16:9 in 4:3: letterboxed
    ((720, 480), "32/27", "1920x1080", (1920, 1080)),  # anamorphic 16:9 fills 16:9
    ((720, 480), "8/9", "1920x1080", (1440, 1080)),  # anamorphic 4:3
])
def test_target_keeps_the_display_aspect_in_square_pixels(tmp_path: Path, size: tuple[int, int], sar: str,
                                                          target: str, picture: tuple[int, int]) -> None:
    source = white_source(tmp_path, *size, sar)
    out = tmp_path / "out.mkv"
    result = kizunasr("encode", str(source), str(out), "--profile", str(resize_profile(tmp_path)), "--codec", "h264",
                      "--target", target)
    assert result.returncode == 0, result.stderr
    info = video_info(out)
    assert f"{info['width']}x{info['height']}" == target
    assert display_aspect(info) == Fraction(info["width"], info["height"])  # square pixels
    box = picture_box(out)
    assert abs(box[0] - picture[0]) <= 2 and abs(box[1] - picture[1]) <= 2, box
    assert abs(Fraction(*box) / display_aspect(video_info(source)) - 1) < 0.01  # the source's shape


def test_anamorphic_source_keeps_its_display_aspect_without_target(tmp_path: Path) -> None:
    source = white_source(tmp_path, 720, 480, "8/9")
    out = tmp_path / "out.mkv"
    result = kizunasr("encode", str(source), str(out), "--profile", str(resize_profile(tmp_path)), "--codec", "h264")
    assert result.returncode == 0, result.stderr
    info = video_info(out)
    assert (info["width"], info["height"]) == (1440, 960)
    assert display_aspect(info) == display_aspect(video_info(source)) == Fraction(4, 3)
