"""`kizunasr encode INPUT OUTPUT`: decode with bestsource, run a profile's encode chain, encode with ffmpeg."""

from __future__ import annotations

import argparse
from pathlib import Path

from kizunasr_vs.cli import options
from kizunasr_vs.cli.encoding import chain_upscaler, check_target, encode_here, encode_job, encode_on_cluster
from kizunasr_vs.profiles.upscale import resolve_profile


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="upscale a video file with a profile's encode chain and encode it",
                       description=__doc__)
    p.add_argument("input", type=Path, help="video file")
    options.add_output(p, "output file (.mkv keeps subtitles and fonts)", required=True)
    options.add_chain_options(p)
    options.add_encode_options(p)
    options.add_cluster_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    job = encode_job(args, args.input, args.output)
    job.check()
    check_target(args.target)
    profile = resolve_profile(args.profile)  # a broken profile fails before the source is opened
    upscaler = chain_upscaler(args, profile)
    if args.cluster:
        return encode_on_cluster(args, job, upscaler)
    return encode_here(job, upscaler, "encode")
