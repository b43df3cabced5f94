"""`kizunasr encode INPUT OUTPUT`: decode with bestsource, run a profile's encode chain, encode with ffmpeg."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vapoursynth as vs
from tqdm import tqdm

from kizunasr_vs.cli import options
from kizunasr_vs.runtime.encoder import CODECS, EncodeError, EncodeSettings, check_output_path, encode
from kizunasr_vs.runtime.source import open_video


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


def parse_position(text: str | None, fps: float, default: int) -> int:
    """A frame number from '120', '90.5s' or '1:30' / '0:01:30.5'."""
    if text is None:
        return default
    text = text.strip()
    if text.isdigit():
        return int(text)
    seconds = 0.0
    if text.endswith("s"):
        seconds = float(text[:-1])
    elif ":" in text:
        for part in text.split(":"):
            seconds = seconds * 60 + float(part)
    else:
        raise ValueError(f"cannot read position '{text}': use a frame number, 90.5s or 1:30")
    return round(seconds * fps)


def trim(clip: vs.VideoNode, start: str | None, end: str | None) -> tuple[vs.VideoNode, int]:
    """The clip cut to [start, end) and the first frame's index."""
    fps = clip.fps.numerator / clip.fps.denominator if clip.fps.denominator else 24.0
    first = parse_position(start, fps, 0)
    last = min(parse_position(end, fps, clip.num_frames), clip.num_frames)
    if not 0 <= first < last:
        raise ValueError(f"empty range: start {first}, end {last} of {clip.num_frames} frames")
    return clip[first:last], first


def encode_with_progress(clip: vs.VideoNode, output: Path, settings: EncodeSettings, label: str) -> int:
    """Encode with a tqdm bar (frames, fps, ETA); returns an exit code."""
    with tqdm(total=clip.num_frames, unit="frame", desc=label, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        try:
            encode(clip, output, settings, progress)
        except (EncodeError, vs.Error) as exc:
            bar.close()
            print(f"kizunasr: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {output}", file=sys.stderr)
    return 0


def settings_for(args: argparse.Namespace, source: Path | None, clip: vs.VideoNode, first: int) -> EncodeSettings:
    fps = clip.fps.numerator / clip.fps.denominator if clip.fps.denominator else 24.0
    return EncodeSettings(codec=args.codec, crf=args.crf, ten_bit=args.bit_depth == 10, copy_streams_from=source,
                          source_start=first / fps, source_duration=clip.num_frames / fps if source else None)


def run(args: argparse.Namespace) -> int:
    from kizunasr_vs.profiles.upscale import resolve_profile, upscale

    if getattr(args, "cluster", None):
        from kizunasr_vs.cli.batch import run_cluster_encode

        return run_cluster_encode(args)

    try:
        check_output_path(args.output)
        source, first = trim(open_video(args.input), args.start, args.end)
        profile = resolve_profile(args.profile)
        clip = upscale(source, profile, args.target, provider=args.provider)
    except (vs.Error, ValueError, EncodeError) as exc:
        print(f"kizunasr encode: {exc}", file=sys.stderr)
        return 2
    print(f"{args.input.name}: {source.width}x{source.height} -> {clip.width}x{clip.height}, "
          f"{clip.num_frames} frames, profile {profile.name}", file=sys.stderr)
    return encode_with_progress(clip, args.output, settings_for(args, args.input, clip, first), "encode")
