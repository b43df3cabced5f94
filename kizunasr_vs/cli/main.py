"""Argument parsing and dispatch for `kizunasr`; each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kizunasr_vs import __version__
from kizunasr_vs.cli import batch, bench, doctor, encode, export_glsl, models, mpv_cmds, upscale, worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kizunasr",
        description="KizunaSR: anime upscaling with GLSL shaders (vs-placebo) and ONNX models (onnxruntime).",
    )
    parser.add_argument("--version", action="version", version=f"kizunasr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (doctor, upscale, encode, batch, models, bench, export_glsl, mpv_cmds, worker):
        module.add_parser(sub)
    for command in sub.choices.values():  # -v after the sub-command too (SUPPRESS: no default to override)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log more detail")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="kizunasr: %(levelname)s: %(message)s")
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("kizunasr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
