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
