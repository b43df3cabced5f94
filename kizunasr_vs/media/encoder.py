"""Encode a clip with ffmpeg: frames piped as Y4M (or, for a variable frame rate, with their times:
media/timed_frames.py), the source's other streams brought along (media/streams.py), atomic output.

The output appears only when the encode has finished and its video decodes (media/playable.py): ffmpeg writes to
a hidden temporary file beside OUTPUT (``.OUTPUT.XXXXXXXX.partial``), which is renamed at the end. Ctrl-C,
SIGTERM or an ffmpeg failure remove it; one left by a killed process is removed by the next encode of OUTPUT.
ffmpeg runs in a session of its own, so a signal meant for the terminal's job reaches this process, which stops
ffmpeg and cleans up, and never ffmpeg alone.

The output is tagged with its colours (media/colours.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import IO

import vapoursynth as vs

from kizunasr_vs.core.files import remove_stale, replacing
from kizunasr_vs.core.formats import ColorInfo, resolve_color
from kizunasr_vs.media.colours import as_420, color_tags, output_color
from kizunasr_vs.media.errors import EncodeError, OutputExistsError
from kizunasr_vs.media.playable import UnplayableError, check_playable
from kizunasr_vs.media.streams import StreamArgs, probe_streams, stream_args
from kizunasr_vs.media.timed_frames import write_timed_frames

log = logging.getLogger("kizunasr")

PARTIAL = ".partial"  # suffix of the temporary output files
MUXERS = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".mka": "matroska",
          ".avi": "avi", ".nut": "nut", ".y4m": "yuv4mpegpipe"}

# The CODECS each muxer takes in a file that decodes (ffmpeg 5-7); others fail at the first frame or write what
# nothing plays (HEVC in AVI), so they are refused before decoding.
MUXER_CODECS = {"matroska": ("hevc", "h264", "ffv1"), "mp4": ("hevc", "h264"), "mov": ("hevc", "h264", "ffv1"),
                "webm": (), "avi": ("h264", "ffv1"), "nut": ("hevc", "h264", "ffv1"), "yuv4mpegpipe": ()}

CODECS = {
    "hevc": ["-c:v", "libx265", "-preset", "fast", "-x265-params", "log-level=error"],
    "h264": ["-c:v", "libx264", "-preset", "fast"],
    "ffv1": ["-c:v", "ffv1", "-level", "3", "-g", "1"],
}

__all__ = ["CODECS", "MUXERS", "MUXER_CODECS", "EncodeError", "EncodeSettings", "OutputExistsError", "encode"]


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
    source_start: float = 0.0  # where the encoded frames begin on the source's timeline (seconds)
    source_duration: float | None = None  # how long they are shown; the source's other streams are cut to it
    cut: tuple[bool, bool] = (False, False)  # the user cut the source's start, its end (--start, --end)
    frame_times: tuple[float, ...] | None = None  # each frame's time from the first's, and the end (variable rate)
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


def ffmpeg_command(settings: EncodeSettings, temp_output: Path, muxer: str, color: ColorInfo | None = None,
                   streams: StreamArgs | None = None) -> list[str]:
    """The ffmpeg command line: the frames from stdin (Y4M, or Matroska with their times), tagged with ``color``,
    and the source's other streams as ``streams`` (media/streams.py) says."""
    streams = streams or StreamArgs()
    timed = settings.frame_times is not None
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *streams.video_input,
           "-f", "matroska" if timed else "yuv4mpegpipe", "-i", "pipe:0", *streams.inputs, "-map", "0:v:0",
           *streams.maps, *settings.video_args()]
    if timed:  # every frame keeps its time
        cmd += ["-fps_mode", "passthrough", "-enc_time_base", "-1"]
    if color is not None:
        cmd += color_tags(color)
    if settings.display_aspect is not None:  # ffmpeg sets the sample aspect ratio that shows the frames so
        cmd += ["-aspect", f"{settings.display_aspect.numerator}:{settings.display_aspect.denominator}"]
    return cmd + streams.span + settings.extra_args + ["-f", muxer, str(temp_output)]


def other_streams(settings: EncodeSettings, muxer: str, folder: Path) -> StreamArgs | None:
    """The source's other streams for a ``muxer`` output (files it needs go in ``folder``); each thing the
    output cannot hold is logged as a warning."""
    if settings.copy_streams_from is None:
        return None
    found = stream_args(settings.copy_streams_from, probe_streams(settings.copy_streams_from), muxer,
                        settings.source_start, settings.source_duration, settings.cut, folder)
    for warning in found.warnings:
        log.warning("%s", warning)
    return found


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
           progress: Callable[[int, int], None] | None = None, overwrite: bool = False, check: bool = True) -> Path:
    """Encode ``clip`` into ``output`` atomically; returns the output path. An existing output, or one that
    appears while encoding, is replaced only with ``overwrite`` (else OutputExistsError). With ``check`` the
    written file's video is decoded once before it takes the output's name (``check_playable``)."""
    if shutil.which("ffmpeg") is None:
        raise EncodeError("ffmpeg not found on PATH; install it (Debian: apt-get install ffmpeg)")
    output = Path(output)
    muxer = check_output_path(output, settings.codec)
    color = settings.color or resolve_color(clip)
    tagged = output_color(clip, color)
    video = as_420(clip, settings.ten_bit, color, tagged)
    # ffmpeg's messages go to a file, not a pipe nobody reads while frames are written (no deadlock).
    with (tempfile.TemporaryDirectory(prefix="kizunasr-") as folder, tempfile.TemporaryFile() as ffmpeg_log,
          finishing(output, overwrite) as temp):
        streams = other_streams(settings, muxer, Path(folder))
        _run_ffmpeg(video, ffmpeg_command(settings, temp, muxer, tagged, streams), settings.frame_times,
                    ffmpeg_log, progress)
        if check:
            try:
                check_playable(temp, clip.num_frames)
            except UnplayableError as exc:
                raise EncodeError(f"{exc}; nothing was written to '{output}'") from None
    return output


def _run_ffmpeg(video: vs.VideoNode, command: list[str], frame_times: tuple[float, ...] | None,
                ffmpeg_log: IO[bytes], progress: Callable[[int, int], None] | None) -> None:
    """Run ``command`` with ``video``'s frames on its stdin (with ``frame_times``: timed Matroska, else Y4M);
    EncodeError with ffmpeg's last words when it fails."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=ffmpeg_log, start_new_session=True)
    assert proc.stdin is not None
    try:
        with _sigterm_as_interrupt():
            try:
                if frame_times is not None:
                    write_timed_frames(video, proc.stdin, frame_times, progress)
                else:
                    video.output(proc.stdin, y4m=True, progress_update=progress)
                proc.stdin.close()
            except OSError as exc:  # the pipe broke: ffmpeg stopped reading
                proc.wait()
                raise EncodeError(f"ffmpeg stopped early{_ended(proc.returncode, ffmpeg_log)}") from exc
            if proc.wait() != 0:
                raise EncodeError(f"ffmpeg failed{_ended(proc.returncode, ffmpeg_log)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):  # frames still buffered for a dead ffmpeg: nobody will read them
            proc.stdin.close()


def _ended(returncode: int, ffmpeg_log: IO[bytes]) -> str:
    """How ffmpeg ended and its last words: " (killed by SIGKILL)", " (exit 1): No space left on device"."""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        how = f" (killed by {name}{SIGNAL_CAUSES.get(name, '')})"
    else:
        how = f" (exit {returncode})"
    ffmpeg_log.seek(0)
    text = ffmpeg_log.read().decode(errors="replace").strip()
    return how + (": " + " | ".join(text.splitlines()[-5:]) if text else "")


SIGNAL_CAUSES = {"SIGXFSZ": ": the output reached the file size limit (ulimit -f)",
                 "SIGKILL": ", perhaps by the out-of-memory killer"}
