"""`kizunasr encode INPUT OUTPUT`: decode with bestsource, run a profile's encode chain, encode with ffmpeg."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vapoursynth as vs
from tqdm import tqdm

from kizunasr_vs.cli import options
from kizunasr_vs.core.formats import resolve_color
from kizunasr_vs.media.encoder import CODECS, EncodeSettings, encode
from kizunasr_vs.media.job import EncodeJob


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


def encode_job(args: argparse.Namespace, source: Path | None, output: Path) -> EncodeJob:
    """The encode the common options describe, of ``source`` (None: the built-in sample) into ``output``."""
    return EncodeJob(source, output, args.start, args.end, args.codec, args.crf, args.bit_depth == 10,
                     args.overwrite)


def encode_with_progress(clip: vs.VideoNode, output: Path, settings: EncodeSettings, label: str) -> int:
    """Encode with a tqdm bar (frames, fps, ETA); returns 0 (errors are raised, for cli/main.py to report)."""
    with tqdm(total=clip.num_frames, unit="frame", desc=label, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        encode(clip, output, settings, progress)
    print(f"wrote {output}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from kizunasr_vs.profiles.upscale import resolve_profile, upscale

    job = encode_job(args, args.input, args.output)
    job.check()
    profile = resolve_profile(args.profile)  # a broken profile fails before the source is opened
    if getattr(args, "cluster", None):
        from kizunasr_vs.cli.batch import run_cluster_encode

        return run_cluster_encode(args, job)

    source, first = job.trim(job.open_source())
    clip = upscale(source, profile, args.target, backend=args.provider)
    print(f"{job.name}: {source.width}x{source.height} -> {clip.width}x{clip.height}, "
          f"{clip.num_frames} frames, profile {profile.name}", file=sys.stderr)
    settings = job.settings(clip, first, resolve_color(source))
    return encode_with_progress(clip, job.output, settings, "encode")
