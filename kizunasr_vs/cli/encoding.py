"""Running encodes for `encode`, `upscale` and `batch`: the job and upscaler the options describe, the graph
(profiles/encode_graph.py) and a progress bar, on this machine or over a Ray cluster. Errors are raised, for
cli/main.py (or batch, which goes on to the next input) to report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vapoursynth as vs
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from kizunasr_vs.core.errors import InputError
from kizunasr_vs.media.encoder import EncodeSettings, encode
from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.profiles.encode_graph import Upscaler, plan_encode
from kizunasr_vs.profiles.loader import Profile


def encode_job(args: argparse.Namespace, source: Path | None, output: Path) -> EncodeJob:
    """The encode the options describe, of ``source`` (None: the built-in sample) into ``output``."""
    return EncodeJob(source, output, args.start, args.end, args.codec, args.crf, args.bit_depth == 10,
                     args.overwrite)


def check_target(target: tuple[int, int] | None) -> None:
    """Refuse, before any work, a target that 4:2:0 video cannot have (odd sides)."""
    if target is not None and (target[0] % 2 or target[1] % 2):
        raise InputError(f"--target {target[0]}x{target[1]}: 4:2:0 video needs even sides; use "
                         f"{target[0] // 2 * 2}x{target[1] // 2 * 2}")


def chain_upscaler(args: argparse.Namespace, profile: Profile) -> Upscaler:
    """The upscaler of `encode` and `batch`: ``profile`` (--profile, resolved) and its encode chain, then
    --target."""
    return Upscaler(profile=profile, target=args.target, provider=args.provider, max_memory=args.max_memory)


def prepare(job: EncodeJob, upscaler: Upscaler) -> tuple[vs.VideoNode, EncodeSettings]:
    """The job's upscaled clip and ffmpeg's settings, with a summary line on stderr; raises when the job cannot
    start (a bad input, profile or chain, too little memory)."""
    plan = plan_encode(job, upscaler)
    clip = plan.build()
    print(f"{job.name}: {plan.source.width}x{plan.source.height} -> {clip.width}x{clip.height}, "
          f"{clip.num_frames} frames, {plan.what}", file=sys.stderr)
    return clip, plan.settings_for(clip)


def encode_with_progress(clip: vs.VideoNode, output: Path, settings: EncodeSettings, label: str,
                         overwrite: bool = False) -> None:
    """Encode with a tqdm bar (frames, fps, ETA); raises EncodeError (OutputExistsError when the output appeared
    meanwhile and may not be replaced) or the vs.Error of a frame."""
    with logging_redirect_tqdm(), tqdm(total=clip.num_frames, unit="frame", desc=label, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        encode(clip, output, settings, progress, overwrite)
    print(f"wrote {output}", file=sys.stderr)


def encode_here(job: EncodeJob, upscaler: Upscaler, command: str) -> int:
    """One job in this process (`encode`, `upscale`); returns 0, and raises when it cannot start or fails."""
    clip, settings = prepare(job, upscaler)
    encode_with_progress(clip, job.output, settings, command, job.overwrite)
    return 0


def cluster_encode(args: argparse.Namespace, encode: EncodeJob, upscaler: Upscaler, workers: int | None) -> None:
    """One input by ``upscaler`` over the connected cluster (``workers``: the address's local worker count) with a
    progress display (the job's bar, then a line per worker); raises ClusterError, InputError, vs.Error..."""
    from kizunasr_vs.cluster import ClusterJob, WorkerStatus, run_job

    job = ClusterJob(encode, upscaler, args.chunk_frames, workers, args.gpus_per_worker)
    lines: list[tqdm] = []
    with tqdm(unit="frame", desc=encode.name, dynamic_ncols=True) as bar:

        def progress(done: int, total: int, workers: list[WorkerStatus]) -> None:
            bar.total = total
            while len(lines) < len(workers):
                lines.append(tqdm(bar_format="  {desc}", position=len(lines) + 1, leave=False))
            for line, worker in zip(lines, workers, strict=False):
                line.set_description_str(worker.describe())
            bar.update(done - bar.n)

        try:
            result = run_job(job, progress)
        finally:
            for line in lines:
                line.close()
    print(f"{encode.name}: {result.chunks} chunks, {result.encoded} encoded, {result.reused} reused; "
          f"wrote {result.output} ({result.frames} frames in {result.seconds:.1f} s)", file=sys.stderr)


def encode_on_cluster(args: argparse.Namespace, job: EncodeJob, upscaler: Upscaler) -> int:
    """`kizunasr encode ... --cluster ADDR`; returns 0, and raises as ``cluster_encode``."""
    from kizunasr_vs.cluster import connect, parse_address

    address = parse_address(args.cluster)
    with connect(address):
        cluster_encode(args, job, upscaler, address.workers)
    return 0
