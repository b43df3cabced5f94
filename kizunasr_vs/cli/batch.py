"""`kizunasr batch INPUT... --out-dir DIR`: encode several files, on one machine or over a Ray cluster.

A failed input does not stop the others; the exit status is non-zero when any failed, after a summary naming
each failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import vapoursynth as vs

from kizunasr_vs.cli import options
from kizunasr_vs.cli.encoding import (
    chain_upscaler,
    check_target,
    cluster_encode,
    encode_job,
    encode_with_progress,
    prepare,
)
from kizunasr_vs.cli.report import error_line
from kizunasr_vs.core.errors import InputError, KizunaError
from kizunasr_vs.media.job import EncodeJob, check_outputs
from kizunasr_vs.media.span import check_span
from kizunasr_vs.profiles.encode_graph import Upscaler
from kizunasr_vs.profiles.upscale import resolve_profile

if TYPE_CHECKING:
    from kizunasr_vs.cluster import ClusterAddress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="encode several video files with a profile, optionally over a Ray cluster",
                       description=__doc__)
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="video files")
    p.add_argument("--out-dir", type=Path, required=True, help="folder for the outputs (INPUT's name, .mkv)")
    options.add_chain_options(p)
    options.add_encode_options(p)
    options.add_cluster_options(p)
    p.set_defaults(run=run)


def single_encode(job: EncodeJob, upscaler: Upscaler) -> None:
    """One input in this process; raises on failure."""
    job.check_container()
    clip, settings = prepare(job, upscaler)
    encode_with_progress(clip, job.output, settings, job.name, job.overwrite)


def output_for(args: argparse.Namespace, input_path: Path) -> Path:
    return args.out_dir / f"{input_path.stem}.mkv"


def run(args: argparse.Namespace) -> int:
    if not args.out_dir.is_dir():
        raise InputError(f"output folder '{args.out_dir}' does not exist")
    jobs = [encode_job(args, path, output_for(args, path)) for path in args.inputs]
    check_outputs(jobs)
    check_span(args.start, args.end)
    check_target(args.target)
    upscaler = chain_upscaler(args, resolve_profile(args.profile))  # a broken profile fails before any work
    failures: list[str] = []

    def encode_all(address: ClusterAddress | None) -> None:
        for job in jobs:
            try:
                if address is not None:
                    cluster_encode(args, job, upscaler, address.workers)
                else:
                    single_encode(job, upscaler)
            except (KizunaError, vs.Error, OSError) as exc:  # reported at the end; the next input goes on
                message = error_line(exc)
                message = message if str(job.input) in message else f"{job.input}: {message}"
                print(f"kizunasr batch: {message}", file=sys.stderr)
                failures.append(message)

    if args.cluster:
        from kizunasr_vs.cluster import connect, parse_address

        address = parse_address(args.cluster)
        with connect(address):
            encode_all(address)
    else:
        encode_all(None)
    done = len(args.inputs) - len(failures)
    print(f"kizunasr batch: {done} of {len(args.inputs)} inputs encoded", file=sys.stderr)
    for message in failures:
        print(f"  FAILED {message}", file=sys.stderr)
    return 2 if failures else 0
