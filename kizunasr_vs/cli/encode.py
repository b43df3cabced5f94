"""`kizunasr encode INPUT OUTPUT`: decode with bestsource, run a profile's encode chain, encode with ffmpeg."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import vapoursynth as vs
from tqdm import tqdm

from kizunasr_vs.cli import options
from kizunasr_vs.core.files import check_output
from kizunasr_vs.core.formats import ColorInfo, resolve_color
from kizunasr_vs.media.encoder import CODECS, EncodeError, EncodeSettings, check_output_path, encode
from kizunasr_vs.media.source import open_video
from kizunasr_vs.media.span import fps_of, frame_range


def add_common_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `encode` and `upscale`."""
    options.add_provider(p)
    p.add_argument("--codec", default="hevc", choices=sorted(CODECS), help="video codec (default: hevc)")
    p.add_argument("--bit-depth", type=int, choices=(8, 10), default=10,
                   help="4:2:0 at 8 or 10 bits (default 10; many hardware decoders play H.264 at 8 bits only)")
    p.add_argument("--crf", type=options.crf, default=18,
                   help="constant rate factor, 0-51 (default 18; ignored by ffv1)")
    p.add_argument("--start", help="first frame to encode: a frame number or a time like 1:30 or 90.5s")
    p.add_argument("--end", help="frame (exclusive) or time where encoding stops")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace output files that exist")


def add_chain_options(p: argparse.ArgumentParser) -> None:
    """Options choosing the encode chain, shared by `encode` and `batch`."""
    p.add_argument("--profile", default="auto",
                   help="performance, balanced, quality, auto (default), auto:<preference>, or a .json file")
    p.add_argument("--target", type=options.size, help="final size WxH (resized with Spline36 after the chain)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="upscale a video file with a profile's encode chain and encode it",
                       description=__doc__)
    p.add_argument("input", type=Path, help="video file")
    options.add_output(p, "output file (.mkv keeps subtitles and fonts)", required=True)
    add_chain_options(p)
    add_common_options(p)
    from kizunasr_vs.cli.batch import add_cluster_options

    add_cluster_options(p)
    p.set_defaults(run=run)


def read_position(text: str) -> int | float:
    """A frame number (int) from '120', or seconds (float) from '90.5s' or '1:30' / '0:01:30.5'; finite, >= 0."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        if text.endswith("s"):
            seconds = float(text[:-1])
        elif ":" in text:
            seconds = 0.0
            for part in text.split(":"):
                seconds = seconds * 60 + float(part)
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"cannot read position '{text}': use a frame number, 90.5s or 1:30") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"position '{text}' must be a finite time >= 0, like 90.5s or 1:30")
    return seconds


def check_span(start: str | None, end: str | None) -> None:
    """Validate --start and --end before anything is decoded (start < end where both are frames or both times)."""
    first = read_position(start) if start is not None else 0
    if end is None:
        return
    last = read_position(end)
    if type(first) is type(last) and first >= last:
        raise ValueError(f"--start {start or 0} is not before --end {end}: nothing to encode")


def check_outputs(pairs: list[tuple[Path | None, Path]], overwrite: bool) -> None:
    """Refuse, before any work, outputs (the second of each (input or None, output) pair) that are an input,
    that exist (unless ``overwrite``) or that two inputs would share."""
    inputs = [source for source, _ in pairs if source is not None]
    seen: dict[Path, Path | None] = {}
    for source, output in pairs:
        check_output(output, inputs, overwrite)
        other = seen.setdefault(output.resolve(), source)
        if other != source:
            raise ValueError(f"'{other}' and '{source}' would both be written to '{output}'; encode them apart")


def parse_position(text: str | None, fps: float, default: int) -> int:
    """A frame number from '120', '90.5s' or '1:30' / '0:01:30.5' (``read_position``)."""
    if text is None:
        return default
    position = read_position(text)
    return position if isinstance(position, int) else round(position * fps)


def trim(clip: vs.VideoNode, start: str | None, end: str | None) -> tuple[vs.VideoNode, int]:
    """The clip cut to [start, end) and the first frame's index."""
    fps = fps_of(clip)
    first, last = frame_range(clip, parse_position(start, fps, 0), parse_position(end, fps, clip.num_frames))
    return clip[first:last], first


def error_line(exc: BaseException) -> str:
    """The error's message; for a frame error, its last line without the traceback VapourSynth puts before
    the error a Python frame callback raised."""
    lines = str(exc).strip().splitlines()
    if not isinstance(exc, vs.Error) or len(lines) < 2:
        return str(exc)
    return lines[-1].removeprefix("vapoursynth.Error: ")


def encode_with_progress(clip: vs.VideoNode, output: Path, settings: EncodeSettings, label: str) -> int:
    """Encode with a tqdm bar (frames, fps, ETA); returns an exit code."""
    with tqdm(total=clip.num_frames, unit="frame", desc=label, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        try:
            encode(clip, output, settings, progress)
        except (EncodeError, vs.Error) as exc:
            bar.close()
            print(f"kizunasr: {error_line(exc)}", file=sys.stderr)
            return 1
    print(f"wrote {output}", file=sys.stderr)
    return 0


def settings_for(args: argparse.Namespace, source: Path | None, clip: vs.VideoNode, first: int,
                 color: ColorInfo | None = None) -> EncodeSettings:
    """Encode settings from the options; ``color``: the source's colours (``resolve_color``)."""
    fps = fps_of(clip)
    return EncodeSettings(codec=args.codec, crf=args.crf, ten_bit=args.bit_depth == 10, copy_streams_from=source,
                          source_start=first / fps, source_duration=clip.num_frames / fps if source else None,
                          color=color)


def run(args: argparse.Namespace) -> int:
    from kizunasr_vs.profiles.upscale import resolve_profile, upscale

    try:
        check_output_path(args.output, args.codec)
        check_outputs([(args.input, args.output)], args.overwrite)
        check_span(args.start, args.end)
    except (ValueError, EncodeError) as exc:
        print(f"kizunasr encode: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "cluster", None):
        from kizunasr_vs.cli.batch import run_cluster_encode

        return run_cluster_encode(args)

    try:
        source, first = trim(open_video(args.input), args.start, args.end)
        profile = resolve_profile(args.profile)
        clip = upscale(source, profile, args.target, provider=args.provider)
    except (vs.Error, ValueError, EncodeError) as exc:
        print(f"kizunasr encode: {exc}", file=sys.stderr)
        return 2
    print(f"{args.input.name}: {source.width}x{source.height} -> {clip.width}x{clip.height}, "
          f"{clip.num_frames} frames, profile {profile.name}", file=sys.stderr)
    settings = settings_for(args, args.input, clip, first, resolve_color(source))
    return encode_with_progress(clip, args.output, settings, "encode")
