"""The source's other streams in an output: audio, subtitles, fonts and chapters, as far as the container holds
them, cut to the encoded span.

Matroska and NUT take the subtitles as they are; MP4 and MOV take text subtitles as mov_text (their only text
format) and no picture subtitles; AVI takes none. What a container cannot hold is dropped with a warning.

The encoded frames are placed where they sit on the source's timeline (``-itsoffset``), and the output is cut
from there with output options (``-ss``/``-to``): ffmpeg then drops the other streams' packets outside the span
exactly and cuts the chapters to it, where seeking the source would start at a keyframe before. Text subtitles
are cut here first, so that an event crossing an edge is shortened rather than dropped or kept whole.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kizunasr_vs.media.errors import EncodeError

TEXT_SUBTITLES = ("ass", "ssa", "subrip", "srt", "text", "webvtt", "mov_text")
STYLED_SUBTITLES = ("ass", "ssa")
KEEPS_EVERYTHING = ("matroska", "nut")  # every subtitle codec and chapters; Matroska also fonts
MOV_TEXT = ("mp4", "mov")
CHAPTERS = ("matroska", "nut", "mp4", "mov")
# the codec a text subtitle is written in where it is not copied (a cut stream is re-read as ASS)
TEXT_CODEC = {"ass": "ass", "ssa": "ass", "subrip": "subrip", "srt": "subrip", "webvtt": "webvtt"}


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds
    end: float
    title: str | None = None


@dataclass(frozen=True)
class Subtitle:
    codec: str
    tags: dict[str, str] = field(default_factory=dict)  # language, title

    @property
    def text(self) -> bool:
        return self.codec in TEXT_SUBTITLES


@dataclass(frozen=True)
class SourceStreams:
    """What a source holds besides its first video stream."""

    audio: int = 0
    subtitles: tuple[Subtitle, ...] = ()
    attachments: int = 0
    chapters: tuple[Chapter, ...] = ()


def probe_streams(path: Path) -> SourceStreams:
    """The streams and chapters of ``path``, read by ffprobe (no decoding); empty when it cannot read them."""
    try:
        proc = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_chapters", "-of", "json", str(path)],
                              capture_output=True, text=True, timeout=600)
        data = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        data = {}
    streams = data.get("streams", [])
    kinds = [s.get("codec_type") for s in streams]
    subtitles = tuple(Subtitle(s.get("codec_name", "?"), {k: v for k, v in s.get("tags", {}).items()
                                                          if k in ("language", "title")})
                      for s in streams if s.get("codec_type") == "subtitle")
    chapters = tuple(Chapter(float(c["start_time"]), float(c["end_time"]), c.get("tags", {}).get("title"))
                     for c in data.get("chapters", []))
    return SourceStreams(kinds.count("audio"), subtitles, kinds.count("attachment"), chapters)


@dataclass
class StreamArgs:
    """ffmpeg arguments placing the encoded video on the source's timeline and bringing the source's other streams:
    ``video_input`` goes before the video's input, ``inputs`` after it, ``maps`` and ``span`` among the output
    options; ``warnings`` name what the output cannot hold."""

    video_input: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    maps: list[str] = field(default_factory=list)
    span: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


ASS_TIME = re.compile(r"^(\d+):(\d\d?):(\d\d?(?:[.]\d*)?)$")


def _ass_seconds(text: str) -> float | None:
    match = ASS_TIME.match(text.strip())
    if match is None:
        return None
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def _ass_time(cs: int) -> str:
    """An ASS time from hundredths of a second."""
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def cut_ass(text: str, start: float, end: float | None) -> str:
    """An ASS script with only the events shown within [start, end), cut to it (times stay on the source's
    timeline)."""
    stop = end if end is not None else float("inf")
    out: list[str] = []
    for line in text.splitlines():
        kind, sep, rest = line.partition(":")
        if kind not in ("Dialogue", "Comment") or not sep:
            out.append(line)
            continue
        fields = rest.split(",", 3)  # Layer, Start, End, the rest
        times = [_ass_seconds(f) for f in fields[1:3]] if len(fields) == 4 else [None]
        if None in times:  # not an event line after all: kept as it is
            out.append(line)
            continue
        first, last = (round(t * 100, 6) for t in times if t is not None)
        begin, finish = math.ceil(max(first, start * 100)), math.floor(min(last, stop * 100))
        if finish <= begin:  # outside the span (or shorter than ASS's 1/100 s within it)
            continue
        fields[1], fields[2] = _ass_time(begin), _ass_time(finish)
        out.append(f"{kind}:{','.join(fields)}")
    return "\n".join(out) + "\n"


def _subtitle_as_ass(source: Path, index: int) -> str:
    """The source's subtitle stream ``index`` (among its subtitles) as an ASS script, converted by ffmpeg."""
    proc = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(source), "-map", f"0:s:{index}",
                           "-f", "ass", "-"], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise EncodeError(f"cannot read subtitle stream {index} of '{source}' to cut it: "
                          f"{proc.stderr.strip()[-300:]}")
    return proc.stdout


def stream_args(source: Path, streams: SourceStreams, muxer: str, start: float, duration: float | None,
                cut: tuple[bool, bool], folder: Path) -> StreamArgs:
    """The arguments that bring ``streams`` of ``source`` into a ``muxer`` output whose video (ffmpeg's input 0)
    shows the source from ``start`` seconds on its timeline for ``duration`` (None: to the end). ``cut`` says
    whether the user cut the source's start and its end (--start, --end): the output then begins at ``start``
    (else at the source's beginning, as the source does), and text subtitles are cut (into ``folder``)."""
    end = start + duration if duration is not None else None
    args = StreamArgs(video_input=["-itsoffset", f"{start:.6f}"] if start else [], inputs=["-i", str(source)],
                      maps=["-map", "1:a?", "-c:a", "copy"])
    cut_start = cut[0] and start > 0
    args.span = (["-ss", f"{start:.6f}"] if cut_start else []) + (["-to", f"{end:.6f}"] if end else [])
    next_input = 2
    dropped: list[str] = []
    out_index = 0
    for i, sub in enumerate(streams.subtitles):
        if muxer in MOV_TEXT and not sub.text or muxer not in (*KEEPS_EVERYTHING, *MOV_TEXT):
            dropped.append(sub.codec)
            continue
        codec = "mov_text" if muxer in MOV_TEXT else "copy"
        if muxer not in MOV_TEXT and sub.codec in ("mov_text", "text"):
            codec = "subrip"  # Matroska and NUT have no mov_text
        if any(cut) and sub.text:
            script = folder / f"subtitle{i}.ass"
            script.write_text(cut_ass(_subtitle_as_ass(source, i), start if cut_start else 0.0, end),
                              encoding="utf-8")
            args.inputs += ["-i", str(script)]
            args.maps += ["-map", f"{next_input}:s:0"]
            next_input += 1
            if codec == "copy":
                codec = TEXT_CODEC.get(sub.codec, "ass")
        else:
            args.maps += ["-map", f"1:s:{i}"]
        args.maps += [f"-c:s:{out_index}", codec]
        for key, value in sub.tags.items():
            args.maps += [f"-metadata:s:s:{out_index}", f"{key}={value}"]
        if codec == "mov_text" and sub.codec in STYLED_SUBTITLES:
            args.warnings.append(f"subtitle stream {i} ({sub.codec}) is written as mov_text, the only text "
                                 f"subtitles .{muxer} holds: plain text, its styling is lost (.mkv keeps it)")
        out_index += 1
    if dropped:
        args.warnings.append(f"{len(dropped)} subtitle stream(s) ({', '.join(dropped)}) dropped: .{muxer} cannot "
                             "hold them; .mkv can")
    if muxer == "matroska":
        args.maps += ["-map", "1:t?"]
    elif streams.attachments:
        args.warnings.append(f"{streams.attachments} attached file(s) (fonts) dropped: only .mkv holds them")
    if muxer in CHAPTERS:
        args.maps += ["-map_chapters", "1"]
    else:
        if streams.chapters:
            args.warnings.append(f"{len(streams.chapters)} chapter(s) dropped: .{muxer} cannot hold them")
        args.maps += ["-map_chapters", "-1"]
    args.maps += ["-map_metadata", "1"]
    return args
