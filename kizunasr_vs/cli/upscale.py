"""`kizunasr upscale [INPUT] [OUTPUT]`: decode, upscale 2x, encode with a progress bar.

With no INPUT, a built-in generated anime-like sample is upscaled, so the command works offline.
The upscaler is an ONNX model (``--model``, or the smallest AnimeJaNai model found in
``$KIZUNASR_MODELS_DIR``) or else the GLSL line-art shader.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import vapoursynth as vs
from tqdm import tqdm

from kizunasr_vs.core.sample import sample_clip
from kizunasr_vs.runtime.encoder import CODECS, EncodeError, EncodeSettings, encode
from kizunasr_vs.runtime.source import open_video

# Smallest first: the default favours speed; pass --model for another.
PREFERRED_MODELS = (
    "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx",
    "2x_AnimeJaNai_HD_V3_UltraCompact-fp32.onnx",
    "2x_AnimeJaNai_HD_V3_Compact-fp32.onnx",
)
GLSL_DIR = Path(__file__).resolve().parents[2] / "glsl"
DEFAULT_SHADER = GLSL_DIR / "kizuna_edge2x.glsl"
DEFAULT_SAMPLE_OUTPUT = Path("out") / "sample_2x.mkv"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="upscale a video 2x (default: a built-in sample) and encode it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", type=Path, help="video file (default: built-in sample)")
    p.add_argument("output", nargs="?", type=Path,
                   help="output file (default: INPUT_2x.mkv beside INPUT, or out/sample_2x.mkv)")
    p.add_argument("--model", type=Path, help="ONNX model file to use")
    p.add_argument("--shader", type=Path, help="mpv user shader to use instead of a model")
    p.add_argument("--provider", default="auto", help="onnxruntime provider: auto, cpu, cuda, tensorrt")
    p.add_argument("--codec", default="hevc", choices=sorted(CODECS), help="video codec (default hevc 10-bit)")
    p.add_argument("--crf", type=int, default=18, help="constant rate factor (default 18)")
    p.add_argument("--frames", type=int, help="only the first N frames")
    p.set_defaults(run=run)


def find_default_model() -> Path | None:
    """The first preferred AnimeJaNai model in $KIZUNASR_MODELS_DIR, if any."""
    folder = os.environ.get("KIZUNASR_MODELS_DIR")
    if not folder:
        return None
    for name in PREFERRED_MODELS:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def choose_upscaler(args: argparse.Namespace) -> tuple[str, Path]:
    """('onnx' | 'shader', path) from the arguments and what is installed."""
    if args.shader:
        return "shader", args.shader
    model = args.model or find_default_model()
    if model:
        return "onnx", model
    return "shader", DEFAULT_SHADER


def build_clip(args: argparse.Namespace) -> tuple[vs.VideoNode, str]:
    """The upscaled clip and a description of what upscales it."""
    import kizunasr_vs

    clip = open_video(args.input) if args.input else sample_clip()
    if args.frames:
        clip = clip[: min(args.frames, clip.num_frames)]
    kind, path = choose_upscaler(args)
    if kind == "onnx":
        return kizunasr_vs.onnx(clip, str(path), provider=args.provider), f"model {path.name}"
    return kizunasr_vs.shader(clip, str(path)), f"shader {path.name}"


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
        clip, what = build_clip(args)
    except vs.Error as exc:
        print(f"kizunasr upscale: {exc}", file=sys.stderr)
        return 2
    source = args.input.name if args.input else "built-in sample"
    print(f"{source}: {clip.width // 2}x{clip.height // 2} -> {clip.width}x{clip.height}, "
          f"{clip.num_frames} frames, {what}", file=sys.stderr)
    settings = EncodeSettings(codec=args.codec, crf=args.crf, copy_streams_from=args.input)
    with tqdm(total=clip.num_frames, unit="frame", desc="upscale", dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        try:
            encode(clip, output, settings, progress)
        except (EncodeError, vs.Error) as exc:
            bar.close()
            print(f"kizunasr upscale: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {output}", file=sys.stderr)
    return 0
