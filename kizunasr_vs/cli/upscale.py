"""Upscale a video 2x with one model or shader (or a profile's encode chain) and encode it.

With no INPUT, a built-in generated anime-like sample is upscaled, so the command works offline.
The upscaler is --model or --shader, or --profile's encode chain; else the smallest installed model
trained for the source's height (the SD model for SD sources; `kizunasr models list`), else
KizunaSR's line-art shader kizuna_edge2x.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli import options
from kizunasr_vs.cli.encode import add_common_options, encode_job, encode_with_progress
from kizunasr_vs.core.formats import resolve_color
from kizunasr_vs.core.resources import shader_path

DEFAULT_SHADER = "kizuna_edge2x.glsl"
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
    p.add_argument("--target", type=options.size, help="final size WxH (resized with Spline36 at the end)")
    add_common_options(p)
    p.set_defaults(run=run)


def find_default_model(height: int | None = None) -> Path | None:
    """The first installed registry model (smallest first) trained for sources of ``height`` (any when None),
    checked against the registry's sha256 (ChecksumError, with the command that replaces it, when the file is
    damaged)."""
    from kizunasr_vs.models.registry import load_registry
    from kizunasr_vs.models.store import installed_path, model_path

    for entry in load_registry().values():
        path = installed_path(entry)
        if path is not None and (height is None or entry.suits_height(height)):
            return model_path(entry.name)
    return None


def upscale_2x(clip: vs.VideoNode, args: argparse.Namespace) -> tuple[vs.VideoNode, str]:
    """The upscaled clip and a description of what upscaled it."""
    import kizunasr_vs

    if args.profile:
        from kizunasr_vs.profiles.upscale import resolve_profile

        profile = resolve_profile(args.profile)
        return kizunasr_vs.upscale(clip, profile, backend=args.provider), f"profile {profile.name}"
    model = None if args.shader else (args.model or find_default_model(clip.height))
    if model is not None:
        return kizunasr_vs.onnx(clip, str(model), backend=args.provider), f"model {model.name}"
    shader = args.shader or shader_path(DEFAULT_SHADER)
    return kizunasr_vs.shader(clip, str(shader)), f"shader {shader.name}"


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
    if args.profile:  # a broken profile fails before the source is opened
        from kizunasr_vs.profiles.upscale import resolve_profile

        resolve_profile(args.profile)
    source, first = job.trim(job.open_source())
    clip, what = upscale_2x(source, args)
    if args.target:
        from kizunasr_vs.profiles.chain import resize_to

        clip = resize_to(clip, *args.target)
    print(f"{job.name}: {source.width}x{source.height} -> {clip.width}x{clip.height}, {clip.num_frames} frames, "
          f"{what}", file=sys.stderr)
    settings = job.settings(clip, first, resolve_color(source))
    return encode_with_progress(clip, job.output, settings, "upscale")
