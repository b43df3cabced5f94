"""Argument types shared by the sub-commands: checked by argparse, before any source is opened, with a short
usage error instead of a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

PROVIDERS = ("auto", "cpu", "cuda", "tensorrt", "torch", "torch-compile")


def size(text: str) -> tuple[int, int]:
    """"WxH" -> (width, height), both positive."""
    from kizunasr_vs.profiles.upscale import parse_target

    try:
        parsed = parse_target(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 1920x1080") from None
    assert parsed is not None
    return parsed


def memory(text: str) -> int:
    """Bytes from "8G", "1.5GiB", "500M" (binary units: K, M, G, T)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    number = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = number[-1:] if number[-1:] in units else ""
    try:
        value = float(number.removesuffix(unit)) * units[unit]
    except ValueError:
        value = -1
    if not 0 < value < 1 << 60:
        raise argparse.ArgumentTypeError(f"'{text}' is not an amount of memory like 8G or 500M")
    return int(value)


def crf(text: str) -> int:
    """A constant rate factor, 0..51 (x264/x265's range)."""
    if not text.strip().isdigit() or not 0 <= int(text) <= 51:
        raise argparse.ArgumentTypeError(f"'{text}' is not a CRF from 0 to 51")
    return int(text)


def model(text: str) -> Path:
    """A model: registry name, file in the models folder, or path (``models.store.find_model``)."""
    from kizunasr_vs.models.errors import ModelError
    from kizunasr_vs.models.store import find_model

    try:
        return find_model(text)
    except (FileNotFoundError, ModelError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shader(text: str) -> Path:
    """A shader: built-in name or path (``resources.shader_path``)."""
    from kizunasr_vs.core.resources import shader_path

    try:
        return shader_path(text)
    except FileNotFoundError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shader_chain(text: str) -> str:
    """One shader or a comma-separated chain of them (``bench --fidelity``), each checked like ``shader``;
    the text as given."""
    for part in text.split(","):
        shader(part)
    return text


def add_output(p: argparse.ArgumentParser, help: str, required: bool = False) -> None:
    """``-o/--output FILE``, and the older positional OUTPUT; ``resolve_output`` folds them into ``args.output``."""
    p.add_argument("output_pos", nargs="?", type=Path, metavar="OUTPUT", help="the same as -o (older form)")
    p.add_argument("-o", "--output", type=Path, help=help)
    p.set_defaults(output_required=required)


def resolve_output(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``args.output`` from -o or the positional OUTPUT (a usage error when both or, if required, neither)."""
    if not hasattr(args, "output_pos"):
        return
    if args.output and args.output_pos:
        parser.error(f"{args.command}: give the output once, as -o OUTPUT or as the last argument")
    args.output = args.output or args.output_pos
    if args.output is None and args.output_required:
        parser.error(f"{args.command}: the output file is required (-o OUTPUT)")


def add_provider(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", default="auto", choices=PROVIDERS,
                   help="model backend (default auto: TensorRT, else CUDA, else the CPU; torch and torch-compile "
                        "need kizunasr[torch])")


def add_encode_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that encodes (`encode`, `upscale`, `batch`)."""
    from kizunasr_vs.media.encoder import CODECS

    add_provider(p)
    p.add_argument("--codec", default="hevc", choices=sorted(CODECS), help="video codec (default: hevc)")
    p.add_argument("--bit-depth", type=int, choices=(8, 10), default=10,
                   help="4:2:0 at 8 or 10 bits (default 10; many hardware decoders play H.264 at 8 bits only)")
    p.add_argument("--crf", type=crf, default=18, help="constant rate factor, 0-51 (default 18; ignored by ffv1)")
    p.add_argument("--start", help="first frame to encode: a frame number or a time like 1:30 or 90.5s")
    p.add_argument("--end", help="frame (exclusive) or time where encoding stops")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace output files that exist")
    p.add_argument("--max-memory", type=memory, metavar="SIZE",
                   help="memory the chain may use, like 8G (default: what the system has available); models on "
                        "the CPU run in tiles to fit, or the encode is refused with what it needs")


def add_chain_options(p: argparse.ArgumentParser) -> None:
    """Options choosing the encode chain, shared by `encode` and `batch`."""
    p.add_argument("--profile", default="auto",
                   help="performance, balanced, quality, auto (default), auto:<preference>, or a .json file")
    p.add_argument("--target", type=size,
                   help="final size WxH: the picture fitted inside at its display aspect, padded with black")


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
