"""`kizunasr upscale [INPUT] [OUTPUT]`: upscale 2x with one model or shader and encode (a thin `encode`).

With no INPUT, a built-in generated anime-like sample is upscaled, so the command works offline.
The upscaler is ``--model`` or ``--shader``, else the smallest AnimeJaNai model found in
``$KIZUNASR_MODELS_DIR``, else KizunaSR's line-art shader (glsl/kizuna_edge2x.glsl).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli.encode import (
    add_common_options,
    check_outputs,
    check_span,
    encode_with_progress,
    settings_for,
    trim,
)
from kizunasr_vs.core.formats import resolve_color
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.core.sample import sample_clip
from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.runtime.encoder import EncodeError, check_output_path
from kizunasr_vs.runtime.source import open_video

# Smallest first: the default favours speed; pass --model for another.
PREFERRED_MODELS = (
    "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx",
    "2x_AnimeJaNai_HD_V3_UltraCompact-fp32.onnx",
    "2x_AnimeJaNai_HD_V3_Compact-fp32.onnx",
)
DEFAULT_SHADER = "kizuna_edge2x.glsl"
DEFAULT_SAMPLE_OUTPUT = Path("out") / "sample_2x.mkv"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="upscale a video 2x (default: a built-in sample) and encode it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", type=Path, help="video file (default: built-in sample)")
    p.add_argument("output", nargs="?", type=Path,
                   help="output file (default: INPUT_2x.mkv beside INPUT, or out/sample_2x.mkv)")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument("--model", type=Path, help="ONNX model file to use")
    choice.add_argument("--shader", help="mpv user shader (file in glsl/ or a path) to use instead")
    add_common_options(p)
    p.set_defaults(run=run)


def find_default_model() -> Path | None:
    """The first preferred AnimeJaNai model in $KIZUNASR_MODELS_DIR, if any, checked against the registry's
    sha256 (ChecksumError, with the command that replaces it, when the file is damaged)."""
    if not os.environ.get("KIZUNASR_MODELS_DIR"):
        return None
    from kizunasr_vs.models.registry import load_registry
    from kizunasr_vs.models.store import model_path, store_path

    entries = {e.file: e for e in load_registry().values()}
    for name in PREFERRED_MODELS:
        if name in entries and store_path(entries[name]).is_file():
            return model_path(entries[name].name)
    return None


def upscale_2x(clip: vs.VideoNode, args: argparse.Namespace) -> tuple[vs.VideoNode, str]:
    """The upscaled clip and a description of what upscaled it."""
    import kizunasr_vs

    model = None if args.shader else (args.model or find_default_model())
    if model is not None:
        return kizunasr_vs.onnx(clip, str(model), provider=args.provider), f"model {model.name}"
    shader = shader_path(args.shader or DEFAULT_SHADER)
    return kizunasr_vs.shader(clip, str(shader)), f"shader {shader.name}"


def default_output(args: argparse.Namespace) -> Path:
    if args.output:
        return args.output
    if args.input:
        return args.input.with_name(f"{args.input.stem}_2x.mkv")
    DEFAULT_SAMPLE_OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    return DEFAULT_SAMPLE_OUTPUT


def run(args: argparse.Namespace) -> int:
    output = default_output(args)
    try:
        check_output_path(output, args.codec)
        check_outputs([(args.input, output)], args.overwrite)
        check_span(args.start, args.end)
        source, first = trim(open_video(args.input) if args.input else sample_clip(), args.start, args.end)
        clip, what = upscale_2x(source, args)
    except (vs.Error, ValueError, EncodeError, ModelError) as exc:
        print(f"kizunasr upscale: {exc}", file=sys.stderr)
        return 2
    name = args.input.name if args.input else "built-in sample"
    print(f"{name}: {source.width}x{source.height} -> {clip.width}x{clip.height}, {clip.num_frames} frames, "
          f"{what}", file=sys.stderr)
    settings = settings_for(args, args.input, clip, first, resolve_color(source))
    return encode_with_progress(clip, output, settings, "upscale")
