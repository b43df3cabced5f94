"""Encode a clip with ffmpeg: frames piped as Y4M, streams copied from the source, atomic output.

The output appears only when the encode has finished: ffmpeg writes to a hidden temporary file
beside OUTPUT (``.OUTPUT.XXXXXXXX.partial``), which is renamed at the end. Ctrl-C, SIGTERM or an
ffmpeg failure remove it; one left by a killed process is removed by the next encode of OUTPUT.

The output is tagged with its colours (matrix, primaries, transfer, range, chroma location); BT.601
YUV in an HD output is converted to BT.709 YUV first (``output_color`` says why).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import IO

import vapoursynth as vs

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.files import remove_stale, replacing
from kizunasr_vs.core.formats import (
    MATRIX_BT601,
    MATRIX_BT709,
    RANGE_FULL,
    RANGE_LIMITED,
    ColorInfo,
    is_hd,
    resolve_color,
)

PARTIAL = ".partial"  # suffix of the temporary output files
MUXERS = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".mka": "matroska",
          ".avi": "avi", ".nut": "nut", ".y4m": "yuv4mpegpipe"}

# The CODECS each muxer takes (ffmpeg 5-7); others fail at the first frame, so they are refused before decoding.
MUXER_CODECS = {"matroska": ("hevc", "h264", "ffv1"), "mp4": ("hevc", "h264"), "mov": ("hevc", "h264", "ffv1"),
                "webm": (), "avi": ("hevc", "h264", "ffv1"), "nut": ("hevc", "h264", "ffv1"), "yuv4mpegpipe": ()}

CODECS = {
    "hevc": ["-c:v", "libx265", "-preset", "fast", "-x265-params", "log-level=error"],
    "h264": ["-c:v", "libx264", "-preset", "fast"],
    "ffv1": ["-c:v", "ffv1", "-level", "3", "-g", "1"],
}


BT601_MATRICES = (5, 6)  # BT.470BG and SMPTE 170M: the same BT.601 matrix
CHROMA_LOCATIONS = ("left", "center", "topleft", "top", "bottomleft", "bottom")  # VapourSynth's order

class EncodeError(KizunaError, RuntimeError):
    """An encode that could not finish; the message says why and what to do."""


class OutputExistsError(EncodeError):
    """The output exists (or appeared while encoding) and may not be replaced; it is kept as it is."""


def appeared_message(output: Path) -> str:
    return (f"'{output}' appeared while encoding and was kept; the finished encode was removed: encode again "
            "with --overwrite (or -y) to replace it, or choose another output")


@contextmanager
def finishing(output: Path, overwrite: bool) -> Iterator[Path]:
    """``replacing(output, PARTIAL)``: a temporary file that becomes ``output`` when the block ends. Without
    ``overwrite`` an existing output is refused (before the block) and one that appears meanwhile is kept
    (OutputExistsError); a folder at ``output`` is refused either way."""
    if output.is_dir():
        raise OutputExistsError(f"output '{output}' is a folder; give a file name")
    if not overwrite and os.path.lexists(output):
        raise OutputExistsError(f"output '{output}' exists; add --overwrite (or -y) to replace it")
    remove_stale(output.parent, output.name, PARTIAL)  # left by an encode that was killed (SIGKILL)
    try:
        with replacing(output, PARTIAL, overwrite) as temp:
            yield temp
    except FileExistsError:
        raise OutputExistsError(appeared_message(output)) from None
    except IsADirectoryError:
        raise OutputExistsError(f"a folder appeared at '{output}' while encoding; the finished encode was "
                                "removed: choose another output") from None


@dataclass
class EncodeSettings:
    """What ffmpeg is asked to do with the frames and the source's other streams."""

    codec: str = "hevc"
    crf: int = 18
    ten_bit: bool = True
    copy_streams_from: Path | None = None
    source_start: float = 0.0  # seconds into the source where the encoded frames begin
    source_duration: float | None = None  # seconds of the source's other streams to keep
    color: ColorInfo | None = None  # the frames' colours (resolve_color of the source); None: the clip's props
    display_aspect: Fraction | None = None  # the frames' display aspect ratio; None: square pixels
    extra_args: list[str] = field(default_factory=list)

    def video_args(self) -> list[str]:
        if self.codec not in CODECS:
            raise EncodeError(f"unknown codec '{self.codec}'; choose one of {', '.join(CODECS)}")
        args = list(CODECS[self.codec])
        if self.codec != "ffv1":
            args += ["-crf", str(self.crf)]
        args += ["-pix_fmt", "yuv420p10le" if self.ten_bit else "yuv420p"]
        return args


def source_stream_maps(muxer: str) -> list[str]:
    """ffmpeg arguments copying the second input's (the source's) audio and chapters, and in Matroska its
    subtitles (ASS) and fonts, which travel only there."""
    maps = ["-map", "1:a?", "-c:a", "copy", "-map_chapters", "1"]
    if muxer == "matroska":
        maps += ["-map", "1:s?", "-c:s", "copy", "-map", "1:t?"]
    return maps


def ffmpeg_command(settings: EncodeSettings, temp_output: Path, muxer: str,
                   color: ColorInfo | None = None) -> list[str]:
    """The ffmpeg command line: Y4M video from stdin (tagged with ``color``), other streams from the source file."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "yuv4mpegpipe", "-i", "pipe:0"]
    maps = ["-map", "0:v:0"]
    if settings.copy_streams_from is not None:
        if settings.source_start:
            cmd += ["-ss", f"{settings.source_start:.6f}"]
        if settings.source_duration is not None:
            cmd += ["-t", f"{settings.source_duration:.6f}"]
        cmd += ["-i", str(settings.copy_streams_from)]
        maps += source_stream_maps(muxer)
    tags = color_tags(color) if color is not None else []
    if settings.display_aspect is not None:  # ffmpeg sets the sample aspect ratio that shows the frames so
        tags += ["-aspect", f"{settings.display_aspect.numerator}:{settings.display_aspect.denominator}"]
    return cmd + maps + settings.video_args() + tags + settings.extra_args + ["-f", muxer, str(temp_output)]


def color_tags(color: ColorInfo) -> list[str]:
    """ffmpeg's colour options for ``color``: VapourSynth's matrix, primaries and transfer use ffmpeg's (H.273)
    numbers; the chroma location is one less than ffmpeg's."""
    return ["-colorspace", str(color.matrix), "-color_primaries", str(color.primaries),
            "-color_trc", str(color.transfer), "-color_range", "pc" if color.range == RANGE_FULL else "tv",
            "-chroma_sample_location", CHROMA_LOCATIONS[color.chroma_location]]


def output_color(clip: vs.VideoNode, color: ColorInfo) -> ColorInfo:
    """The colours the output is written in: ``color`` (the frames'), except that BT.601 YUV becomes BT.709 YUV
    in an HD output, which players assume to be BT.709 (many ignore the tags: an SD source upscaled to HD would
    change hue there); RGB becomes limited-range YUV, BT.709 for HD and BT.601 for SD. Primaries, transfer and
    chroma location stay: only the YCbCr matrix changes, so colours are exactly the source's."""
    hd = is_hd(clip.width, clip.height)
    fmt = clip.format
    if fmt is not None and fmt.color_family == vs.RGB:
        return replace(color, matrix=MATRIX_BT709 if hd else MATRIX_BT601, range=RANGE_LIMITED)
    if hd and color.matrix in BT601_MATRICES:
        return replace(color, matrix=MATRIX_BT709)
    return color


def _y4m_ready(clip: vs.VideoNode, ten_bit: bool, color: ColorInfo, out: ColorInfo) -> vs.VideoNode:
    """The clip (colours ``color``) as 4:2:0 integer YUV at the output bit depth (what every codec here accepts),
    in the colours ``out``."""
    target = vs.YUV420P10 if ten_bit else vs.YUV420P8
    if clip.format is not None and clip.format.id == target and color == out:
        return clip
    if clip.width % 2 or clip.height % 2:
        raise EncodeError(f"4:2:0 output needs an even size; got {clip.width}x{clip.height}")
    fmt = clip.format
    args = {"matrix": out.matrix, "range": out.range, "chromaloc": out.chroma_location}
    if fmt is not None and fmt.color_family == vs.YUV:
        args |= {"matrix_in": color.matrix, "range_in": color.range, "chromaloc_in": color.chroma_location}
    return clip.resize.Bicubic(format=target, dither_type="error_diffusion", **args)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while encoding, so the temporary file is cleaned up."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_output_path(output: Path, codec: str | None = None) -> str:
    """The ffmpeg muxer for ``output``; raises EncodeError when it cannot be written (or cannot hold ``codec``)."""
    muxer = MUXERS.get(output.suffix.lower())
    if muxer is None:
        raise EncodeError(f"unknown output container '{output.suffix}'; use one of {', '.join(MUXERS)}")
    if codec is not None and codec not in MUXER_CODECS[muxer]:
        fits = [suffix for suffix, m in MUXERS.items() if codec in MUXER_CODECS[m]]
        raise EncodeError(f"a '{output.suffix}' file cannot hold {codec} video; use {fits[0]} "
                          f"({codec} fits in {', '.join(fits)})")
    if not output.parent.is_dir() or not os.access(output.parent, os.W_OK):
        raise EncodeError(f"cannot write into '{output.parent}': the folder is missing or not writable")
    return muxer


def encode(clip: vs.VideoNode, output: Path, settings: EncodeSettings,
           progress: Callable[[int, int], None] | None = None, overwrite: bool = False) -> Path:
    """Encode ``clip`` into ``output`` atomically; returns the output path. An existing output, or one that
    appears while encoding, is replaced only with ``overwrite`` (else OutputExistsError)."""
    if shutil.which("ffmpeg") is None:
        raise EncodeError("ffmpeg not found on PATH; install it (Debian: apt-get install ffmpeg)")
    output = Path(output)
    muxer = check_output_path(output, settings.codec)
    color = settings.color or resolve_color(clip)
    tagged = output_color(clip, color)
    video = _y4m_ready(clip, settings.ten_bit, color, tagged)
    # ffmpeg's messages go to a file, not a pipe nobody reads while frames are written (no deadlock).
    with tempfile.TemporaryFile() as log, finishing(output, overwrite) as temp:
        proc = subprocess.Popen(ffmpeg_command(settings, temp, muxer, tagged), stdin=subprocess.PIPE, stderr=log)
        try:
            assert proc.stdin is not None
            with _sigterm_as_interrupt():
                try:
                    video.output(proc.stdin, y4m=True, progress_update=progress)
                except (BrokenPipeError, OSError) as exc:
                    proc.kill()
                    proc.wait()
                    raise EncodeError(f"ffmpeg stopped early: {_tail(log)}") from exc
                proc.stdin.close()
                if proc.wait() != 0:
                    raise EncodeError(f"ffmpeg failed (exit {proc.returncode}): {_tail(log)}")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    return output


def _tail(log: IO[bytes]) -> str:
    """The last lines ffmpeg wrote to its log."""
    log.seek(0)
    text = log.read().decode(errors="replace").strip()
    return " | ".join(text.splitlines()[-5:]) or "(no message)"
