"""Encodes that play right, checked with ffprobe and ffmpeg as a player reads them: the picture's shape with
--target and for anamorphic sources; subtitles, chapters and fonts in each container and cut to --start/--end;
a variable-frame-rate source in sync with its audio."""

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


SUBTITLES = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, Bold, Alignment
Style: Default,Arial,20,&H00FFFFFF,0,2

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.20,0:00:01.50,Default,,0,0,0,,hello
Dialogue: 0,0:00:02.50,0:00:03.00,Default,,0,0,0,,later
"""
CHAPTERS = ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=one\n" \
           "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=two\n"


def source_with_everything(folder: Path) -> Path:
    """3 s of video at 24 fps with audio, ASS subtitles (an event crossing 1 s, one after 2 s) and two chapters
    (0-1.5 s, 1.5-3 s), in Matroska."""
    (folder / "subs.ass").write_text(SUBTITLES)
    (folder / "chapters.txt").write_text(CHAPTERS)
    out = folder / "everything.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=96x64:r=24:d=3", "-f", "lavfi",
                    "-i", "sine=d=3", "-i", str(folder / "subs.ass"), "-i", str(folder / "chapters.txt"),
                    "-map", "0:v", "-map", "1:a", "-map", "2:s", "-map_chapters", "3", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "ass", str(out)], check=True)
    return out


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_chapters", "-show_format", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def subtitle_events(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of the first subtitle stream's events, read back by ffmpeg as ASS."""
    text = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:s:0", "-f", "ass", "-"],
                          capture_output=True, text=True, check=True).stdout

    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    events = []
    for line in text.splitlines():
        if line.startswith("Dialogue:"):
            fields = line.split(",", 9)
            events.append((seconds(fields[1]), seconds(fields[2]), fields[9]))
    return events


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "mov_text"), (".mkv", "ass")])
def test_a_cut_keeps_subtitles_and_chapters_of_its_span_only(tmp_path: Path, suffix: str, codec: str) -> None:
    source = source_with_everything(tmp_path)
    out = tmp_path / f"cut{suffix}"
    result = kizunasr("encode", str(source), str(out), "--profile", str(resize_profile(tmp_path)), "--codec", "h264",
                      "--start", "1s", "--end", "2s")
    assert result.returncode == 0, result.stderr
    found = probe(out)
    kinds = [s["codec_type"] for s in found["streams"]]
    video = found["streams"][0]
    assert kinds[:3] == ["video", "audio", "subtitle"] and found["streams"][2]["codec_name"] == codec
    # ffmpeg stores MP4 chapters in a text track that ffprobe lists as a data stream: the only one, two samples
    assert [s.get("nb_frames") for s in found["streams"][3:]] == (["2"] if suffix == ".mp4" else [])
    begins = float(video.get("start_time", 0))
    ((start, end, text),) = subtitle_events(out)  # "hello" shortened to the span, "later" gone
    assert text == "hello" and abs(start - begins) < 0.02 and abs(end - 0.5) < 0.06
    chapters = [(float(c["start_time"]), float(c["end_time"])) for c in found["chapters"]]
    assert len(chapters) == 2 and chapters[0][0] == 0 and abs(chapters[0][1] - 0.5) < 0.06
    assert abs(chapters[1][1] - 1.0) < 0.05
    assert abs(float(found["format"]["duration"]) - 1.0) < 1 / 24 + 0.03  # as long as its video
    if suffix == ".mp4":
        assert "is written as mov_text" in result.stderr and "styling is lost" in result.stderr


def test_a_container_without_subtitles_or_chapters_warns_what_it_drops(tmp_path: Path) -> None:
    source = source_with_everything(tmp_path)
    out = tmp_path / "out.avi"
    result = kizunasr("encode", str(source), str(out), "--profile", str(resize_profile(tmp_path)), "--codec", "h264")
    assert result.returncode == 0, result.stderr
    assert "1 subtitle stream(s) (ass) dropped: .avi cannot hold them; .mkv can" in result.stderr
    assert "2 chapter(s) dropped: .avi cannot hold them" in result.stderr
    assert [s["codec_type"] for s in probe(out)["streams"]] == ["video", "audio"]


def variable_rate_source(folder: Path) -> Path:
    """2 s at 24 fps then 2 s at 60 fps (joined by stream copy: each frame keeps its time), white at 1 s and at
    3 s, with a 1 kHz beep at 1 s and at 3 s."""
    parts = []
    for rate in (24, 60):
        part = folder / f"part{rate}.mkv"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"color=black:s=96x64:r={rate}:d=2,drawbox=c=white:t=fill:enable='eq(n,{rate})'",
                        "-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p", str(part)], check=True)
        parts.append(f"file '{part}'")
    (folder / "parts.txt").write_text("\n".join(parts) + "\n")
    out = folder / "vfr.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(folder / "parts.txt"),
                    "-f", "lavfi", "-i", "aevalsrc='0.8*sin(2*PI*1000*t)*(between(t,1,1.05)+between(t,3,3.05))'"
                    ":s=48000:d=4", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(out)],
                   check=True)
    return out


def flashes_and_beeps(path: Path) -> tuple[list[float], list[float]]:
    """When the video turns white and when the audio starts a beep, as a player shows and plays them."""
    info = probe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    frames = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                        "frame=best_effort_timestamp_time", "-of", "json", str(path)],
                                       capture_output=True, text=True, check=True).stdout)["frames"]
    times = [float(f["best_effort_timestamp_time"]) for f in frames]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", "format=gray",
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    luma = np.frombuffer(raw, np.uint8).reshape(len(times), video["height"], video["width"]).mean(axis=(1, 2))
    flashes = [t for t, level in zip(times, luma, strict=True) if level > 128]
    pcm = np.frombuffer(subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
                                        "-ar", "48000", "-f", "f32le", "-"], capture_output=True, check=True).stdout,
                        np.float32)
    loud = np.nonzero(np.abs(pcm) > 0.3)[0] / 48000 + float(audio.get("start_time", 0))
    beeps = [float(loud[0])] + [float(b) for a, b in zip(loud, loud[1:], strict=False) if b - a > 0.5]
    return flashes, beeps


@pytest.mark.parametrize(("suffix", "span", "expected"), [
    (".mkv", [], 2), (".mp4", [], 2), (".mkv", ["--start", "2.5s"], 1),
    (".mp4", ["--start", "1.5s", "--end", "3.5s"], 1),
])
def test_a_variable_frame_rate_source_stays_in_sync(tmp_path: Path, suffix: str, span: list[str],
                                                     expected: int) -> None:
    source = variable_rate_source(tmp_path)
    flashes, beeps = flashes_and_beeps(source)
    assert len(flashes) == len(beeps) == 2 and all(abs(f - b) < 1 / 60 for f, b in zip(flashes, beeps, strict=True))
    out = tmp_path / f"out{suffix}"
    result = kizunasr("encode", str(source), str(out), "--profile", str(resize_profile(tmp_path)), "--codec", "h264",
                      *span)
    assert result.returncode == 0, result.stderr
    flashes, beeps = flashes_and_beeps(out)
    assert len(flashes) == len(beeps) == expected, (flashes, beeps)
    assert all(abs(f - b) < 1 / 60 for f, b in zip(flashes, beeps, strict=True)), (flashes, beeps)  # one frame
