"""Running encodes for `encode`, `upscale` and `batch`: the job and upscaler the options describe, the graph
(profiles/encode_graph.py), a progress bar and one-line errors, on this machine or over a Ray cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vapoursynth as vs
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from kizunasr_vs.media.encoder import EncodeError, EncodeSettings, OutputExistsError, encode
from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.profiles.encode_graph import Upscaler, plan_encode
from kizunasr_vs.profiles.loader import Profile

PREPARE_ERRORS = (vs.Error, ValueError, EncodeError, ModelError)  # a job that cannot start: exit 2


def encode_job(args: argparse.Namespace, source: Path | None, output: Path) -> EncodeJob:
    """The encode the options describe, of ``source`` (None: the built-in sample) into ``output``."""
    return EncodeJob(source, output, args.start, args.end, args.codec, args.crf, args.bit_depth == 10,
                     args.overwrite)


def check_target(target: tuple[int, int] | None) -> None:
    """Refuse, before any work, a target that 4:2:0 video cannot have (odd sides)."""
    if target is not None and (target[0] % 2 or target[1] % 2):
        raise ValueError(f"--target {target[0]}x{target[1]}: 4:2:0 video needs even sides; use "
                         f"{target[0] // 2 * 2}x{target[1] // 2 * 2}")


def chain_upscaler(args: argparse.Namespace, profile: Profile) -> Upscaler:
    """The upscaler of `encode` and `batch`: ``profile`` (--profile, resolved) and its encode chain, then
    --target."""
    return Upscaler(profile=profile, target=args.target, provider=args.provider, max_memory=args.max_memory)


def error_line(exc: BaseException) -> str:
    """The error's message; for a frame error, its last line without the traceback VapourSynth puts before
    the error a Python frame callback raised."""
    lines = str(exc).strip().splitlines()
    if not isinstance(exc, vs.Error) or len(lines) < 2:
        return str(exc)
    return lines[-1].removeprefix("vapoursynth.Error: ")


def prepare(job: EncodeJob, upscaler: Upscaler) -> tuple[vs.VideoNode, EncodeSettings]:
    """The job's upscaled clip and ffmpeg's settings, with a summary line on stderr; raises one of
    PREPARE_ERRORS."""
    plan = plan_encode(job, upscaler)
    clip = plan.build()
    print(f"{job.name}: {plan.source.width}x{plan.source.height} -> {clip.width}x{clip.height}, "
          f"{clip.num_frames} frames, {plan.what}", file=sys.stderr)
    return clip, plan.settings_for(clip)


def encode_with_progress(clip: vs.VideoNode, output: Path, settings: EncodeSettings, label: str,
                         overwrite: bool = False) -> int:
    """Encode with a tqdm bar (frames, fps, ETA); returns an exit code: 2 when the output may not be written
    (it appeared meanwhile), 1 when the encode failed."""
    with logging_redirect_tqdm(), tqdm(total=clip.num_frames, unit="frame", desc=label, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        try:
            encode(clip, output, settings, progress, overwrite)
        except (EncodeError, vs.Error) as exc:
            bar.close()
            print(f"kizunasr: {error_line(exc)}", file=sys.stderr)
            return 2 if isinstance(exc, OutputExistsError) else 1
    print(f"wrote {output}", file=sys.stderr)
    return 0


def encode_here(job: EncodeJob, upscaler: Upscaler, command: str) -> int:
    """One job in this process (`encode`, `upscale`); returns the exit code: 2 when it cannot start."""
    try:
        clip, settings = prepare(job, upscaler)
    except PREPARE_ERRORS as exc:
        print(f"kizunasr {command}: {exc}", file=sys.stderr)
        return 2
    return encode_with_progress(clip, job.output, settings, command, job.overwrite)


def cluster_encode(args: argparse.Namespace, encode: EncodeJob, upscaler: Upscaler, workers: int | None) -> None:
    """One input by ``upscaler`` over the connected cluster (``workers``: the address's local worker count) with a
    progress display (the job's bar, then a line per worker); raises ClusterError/ValueError/vs.Error."""
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
    """`kizunasr encode ... --cluster ADDR`."""
    from kizunasr_vs.cluster import ClusterError, connect, parse_address

    try:
        address = parse_address(args.cluster)
        with connect(address):
            cluster_encode(args, job, upscaler, address.workers)
    except (ClusterError, vs.Error, ValueError, EncodeError) as exc:
        print(f"kizunasr encode: {exc}", file=sys.stderr)
        return 1
    return 0
