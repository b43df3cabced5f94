"""`kizunasr batch INPUT... --out-dir DIR`: encode several files, on one machine or over a Ray cluster.

Also holds the `--cluster` path of `kizunasr encode`. A failed input does not stop the others;
the exit status is non-zero when any failed, after a summary naming each failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import vapoursynth as vs
from tqdm import tqdm

from kizunasr_vs.cli.encode import add_chain_options, add_common_options, encode_job, encode_with_progress
from kizunasr_vs.core.formats import resolve_color
from kizunasr_vs.media.encoder import EncodeError
from kizunasr_vs.media.job import EncodeJob, check_outputs
from kizunasr_vs.media.span import check_span

if TYPE_CHECKING:
    from kizunasr_vs.cluster import ClusterAddress


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """`--cluster` and `--chunk-frames`, shared by `encode` and `batch`."""
    p.add_argument("--cluster", metavar="ADDR",
                   help="encode in chunks over Ray: auto, ray://host:port, or local[:N] (a local instance "
                        "with N workers on 127.0.0.1, stopped at the end)")
    p.add_argument("--chunk-frames", type=int, metavar="N",
                   help="frames per chunk with --cluster (default: about 10 seconds, cut at keyframes)")
    p.add_argument("--gpus-per-worker", type=float, metavar="F",
                   help="share of a GPU per worker with --cluster: 1 or 1/k (0.5 runs two workers per card); "
                        "default 1, or what local:N needs to fit N workers on the cards")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="encode several video files with a profile, optionally over a Ray cluster",
                       description=__doc__)
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="video files")
    p.add_argument("--out-dir", type=Path, required=True, help="folder for the outputs (INPUT's name, .mkv)")
    add_chain_options(p)
    add_common_options(p)
    add_cluster_options(p)
    p.set_defaults(run=run)


def cluster_encode(args: argparse.Namespace, encode: EncodeJob, workers: int | None) -> None:
    """One input over the connected cluster (``workers``: the address's local worker count) with a progress
    display (the job's bar, then a line per worker); raises ClusterError/ValueError/vs.Error."""
    from kizunasr_vs.cluster import ClusterJob, WorkerStatus, run_job

    source = encode.open_source()
    trimmed, _ = encode.trim(source)
    job = ClusterJob(encode, args.profile, args.target, args.provider, args.chunk_frames, workers,
                     args.gpus_per_worker)
    lines: list[tqdm] = []
    with tqdm(total=trimmed.num_frames, unit="frame", desc=encode.name, dynamic_ncols=True) as bar:

        def progress(done: int, total: int, workers: list[WorkerStatus]) -> None:
            while len(lines) < len(workers):
                lines.append(tqdm(bar_format="  {desc}", position=len(lines) + 1, leave=False))
            for line, worker in zip(lines, workers, strict=False):
                line.set_description_str(worker.describe())
            bar.update(done - bar.n)

        try:
            result = run_job(job, progress, source=source)
        finally:
            for line in lines:
                line.close()
    print(f"{encode.name}: {result.chunks} chunks, {result.encoded} encoded, {result.reused} reused; "
          f"wrote {result.output} ({result.frames} frames in {result.seconds:.1f} s)", file=sys.stderr)


def single_encode(args: argparse.Namespace, job: EncodeJob) -> None:
    """One input in this process (the `encode` path); raises on failure."""
    from kizunasr_vs.profiles.upscale import upscale

    job.check_container()
    source, first = job.trim(job.open_source())
    clip = upscale(source, args.profile, args.target, provider=args.provider)
    settings = job.settings(clip, first, resolve_color(source))
    if encode_with_progress(clip, job.output, settings, job.name) != 0:
        raise EncodeError("encoding failed (see above)")


def run_cluster_encode(args: argparse.Namespace, job: EncodeJob) -> int:
    """`kizunasr encode ... --cluster ADDR`: 0, 1 when the encode failed, 2 when another job encodes the output."""
    from kizunasr_vs.cluster import ClusterError, connect, parse_address
    from kizunasr_vs.cluster.lock import WorkFolderBusy

    try:
        address = parse_address(args.cluster)
        with connect(address):
            cluster_encode(args, job, address.workers)
    except (ClusterError, vs.Error, ValueError, EncodeError) as exc:
        print(f"kizunasr encode: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, WorkFolderBusy) else 1
    return 0


def output_for(args: argparse.Namespace, input_path: Path) -> Path:
    return args.out_dir / f"{input_path.stem}.mkv"


def run(args: argparse.Namespace) -> int:
    if not args.out_dir.is_dir():
        print(f"kizunasr batch: output folder '{args.out_dir}' does not exist", file=sys.stderr)
        return 2
    jobs = [encode_job(args, path, output_for(args, path)) for path in args.inputs]
    try:
        check_outputs(jobs)
        check_span(args.start, args.end)
    except ValueError as exc:
        print(f"kizunasr batch: {exc}", file=sys.stderr)
        return 2
    failures: list[str] = []

    def encode_all(address: ClusterAddress | None) -> None:
        for job in jobs:
            try:
                if address is not None:
                    cluster_encode(args, job, address.workers)
                else:
                    single_encode(args, job)
            except (ClusterError, vs.Error, ValueError, EncodeError) as exc:
                message = str(exc) if str(job.input) in str(exc) else f"{job.input}: {exc}"
                print(f"kizunasr batch: {message}", file=sys.stderr)
                failures.append(message)

    from kizunasr_vs.cluster import ClusterError

    if args.cluster:
        from kizunasr_vs.cluster import connect, parse_address

        try:
            address = parse_address(args.cluster)
            with connect(address):
                encode_all(address)
        except ClusterError as exc:
            print(f"kizunasr batch: {exc}", file=sys.stderr)
            return 2
    else:
        encode_all(None)
    done = len(args.inputs) - len(failures)
    print(f"kizunasr batch: {done} of {len(args.inputs)} inputs encoded", file=sys.stderr)
    for message in failures:
        print(f"  FAILED {message}", file=sys.stderr)
    return 1 if failures else 0
