"""One encode, described once for the CLI (`encode`, `upscale`, `batch`) and the cluster: the source, the output,
the frames to encode, the codec settings and whether an existing output may be replaced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.core.errors import InputError
from kizunasr_vs.core.files import check_output
from kizunasr_vs.core.formats import ColorInfo
from kizunasr_vs.core.sample import sample_clip
from kizunasr_vs.media.encoder import EncodeSettings, check_output_path
from kizunasr_vs.media.source import open_video
from kizunasr_vs.media.span import check_span, fps_of, frame_range, parse_position
from kizunasr_vs.media.timing import FrameTimes


@dataclass(frozen=True)
class EncodeJob:
    """``input`` (None: the built-in sample clip) encoded into ``output``: the frames from ``start`` to ``end``
    (each a frame number like '120' or a time like '90.5s' or '1:30'; None: the first frame, the end), 4:2:0 at
    10 bits (``ten_bit``) or 8, with the source's audio, subtitles and chapters; the output is written to a
    temporary file and renamed when complete (media/encoder.py), and an existing one is kept unless ``overwrite``."""

    input: Path | None
    output: Path
    start: str | None = None
    end: str | None = None
    codec: str = "hevc"
    crf: int = 18
    ten_bit: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:  # paths given as text (the API) become Paths
        if self.input is not None:
            object.__setattr__(self, "input", Path(self.input))
        object.__setattr__(self, "output", Path(self.output))

    @property
    def name(self) -> str:
        """The source's name, for messages and progress bars."""
        return self.input.name if self.input is not None else "built-in sample"

    def check_container(self) -> str:
        """The output's ffmpeg muxer; EncodeError when the output cannot be written or cannot hold the codec."""
        return check_output_path(self.output, self.codec)

    def check(self) -> None:
        """Refuse, before anything is decoded: an output that cannot be written (``check_container``), that is the
        input or exists (``check_outputs``), and a span that is unreadable or empty (``check_span``)."""
        self.check_container()
        check_outputs([self])
        check_span(self.start, self.end)

    def open_source(self) -> vs.VideoNode:
        """The whole source: the input decoded by bestsource, or the built-in sample."""
        return open_video(self.input) if self.input is not None else sample_clip()

    def frames(self, source: vs.VideoNode, times: FrameTimes | None = None) -> tuple[int, int]:
        """The source frames [first, last) to encode; ValueError when that range is empty. Times ('90.5s') count
        at the source's frame rate, or, for a variable rate, find the frame shown then in ``times``."""
        fps = fps_of(source)
        at = times.frame_at if times is not None and times.variable else None
        return frame_range(source, parse_position(self.start, fps, 0, at),
                           parse_position(self.end, fps, source.num_frames, at))

    def trim(self, source: vs.VideoNode, times: FrameTimes | None = None) -> tuple[vs.VideoNode, int]:
        """``source`` cut to the job's frames, and the first frame's index."""
        first, last = self.frames(source, times)
        return source[first:last], first

    def settings(self, clip: vs.VideoNode, first: int, color: ColorInfo,
                 times: FrameTimes | None = None) -> EncodeSettings:
        """ffmpeg's settings for encoding ``clip`` (made from the source from frame ``first`` on, in ``color``):
        the input's other streams are copied for the clip's span, where ``times`` (the source's frame times)
        place it, else at the clip's frame rate; a variable rate keeps each frame's time."""
        last = first + clip.num_frames
        if times is not None:
            start, duration = times.span(first, last)
        else:
            fps = fps_of(clip)
            start, duration = first / fps, clip.num_frames / fps
        return EncodeSettings(codec=self.codec, crf=self.crf, ten_bit=self.ten_bit, copy_streams_from=self.input,
                              source_start=start if self.input else 0.0,
                              source_duration=duration if self.input else None,
                              cut=(self.start is not None, self.end is not None),
                              frame_times=times.relative(first, last) if times is not None and times.variable
                              else None, color=color)


def check_outputs(jobs: Sequence[EncodeJob]) -> None:
    """Refuse, before any work, outputs that are an input, that exist (unless the job may overwrite) or that two
    inputs would share."""
    inputs = [job.input for job in jobs if job.input is not None]
    seen: dict[Path, Path | None] = {}
    for job in jobs:
        check_output(job.output, inputs, job.overwrite)
        other = seen.setdefault(job.output.resolve(), job.input)
        if other != job.input:
            raise InputError(f"'{other}' and '{job.input}' would both be written to '{job.output}'; encode them apart")
