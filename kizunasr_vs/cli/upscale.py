"""Upscale a video 2x with one model or shader (or a profile's encode chain) and encode it.

With no INPUT, a built-in generated anime-like sample is upscaled, so the command works offline.
The upscaler is --model or --shader, or --profile's encode chain; else the smallest installed model
trained for the source's height (the SD model for SD sources; `kizunasr models list`), else
KizunaSR's line-art shader kizuna_edge2x.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kizunasr_vs.cli import options
from kizunasr_vs.cli.encoding import check_target, encode_here, encode_job
from kizunasr_vs.profiles.encode_graph import Upscaler
from kizunasr_vs.profiles.upscale import resolve_profile

DEFAULT_SAMPLE_OUTPUT = Path("out") / "sample_2x.mkv"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="upscale a video 2x (default: a built-in sample) and encode it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", type=Path, help="video file (default: built-in sample)")
    options.add_output(p, "output file (default: INPUT_2x.mkv beside INPUT, or out/sample_2x.mkv)")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument("--model", type=options.model,
                        help="model: registry name, file in the models folder, or .onnx path")
    choice.add_argument("--shader", type=options.shader, help="shader: built-in name (kizuna_edge2x) or path")
    choice.add_argument("--profile", help="use this profile's encode chain instead (as in encode): performance, "
                                          "balanced, quality, auto, auto:<preference> or a .json file")
    p.add_argument("--target", type=options.size,
                   help="final size WxH: the picture fitted inside at its display aspect, padded with black")
    options.add_encode_options(p)
    p.set_defaults(run=run)


def default_output(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    if args.input:
        return Path(args.input.with_name(f"{args.input.stem}_2x.mkv"))
    DEFAULT_SAMPLE_OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    return DEFAULT_SAMPLE_OUTPUT


def run(args: argparse.Namespace) -> int:
    job = encode_job(args, args.input, default_output(args))
    job.check()
    check_target(args.target)
    profile = resolve_profile(args.profile) if args.profile else None  # a broken profile fails before the source
    upscaler = Upscaler(profile, args.model, args.shader, args.target, args.provider, args.max_memory)
    return encode_here(job, upscaler, "upscale")
