"""Argument parsing and dispatch for `kizunasr`; each sub-command lives in its own module.

This is the one place that turns an error into an exit status (``EXIT_STATUS``): the commands raise.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence

import vapoursynth as vs

from kizunasr_vs import KizunaError, __version__
from kizunasr_vs.cli import batch, bench, doctor, encode, export_glsl, models, mpv_cmds, options, train, upscale, worker
from kizunasr_vs.cli.report import error_line
from kizunasr_vs.core import paths

EXIT_STATUS = """exit status:
  0    done
  1    doctor: something required is missing
  2    an error, in one line: bad arguments or input, or a failure that stopped the command; batch and
       models fetch/verify go on to the next item and exit 2 at the end if any failed
  130  interrupted (Ctrl-C)
  143  a cluster encode stopped by SIGTERM (finished chunks kept)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kizunasr",
        description="KizunaSR: anime upscaling with GLSL shaders (vs-placebo) and ONNX models (onnxruntime).",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kizunasr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (doctor, upscale, encode, batch, models, bench, export_glsl, train, mpv_cmds, worker):
        module.add_parser(sub)
    helps = {action.dest: action.help or "" for action in sub._choices_actions}
    for name, command in sub.choices.items():
        command.description = plain(command.description or helps[name])
    _add_verbose(sub)
    return parser


def _add_verbose(sub: argparse._SubParsersAction) -> None:
    """-v after the sub-command (and after a sub-sub-command such as `models list`) too; SUPPRESS: no default that
    would override the top-level -v."""
    for command in sub.choices.values():
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more detail")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_verbose(action)


def plain(text: str) -> str:
    """A description as help text: no leading "`kizunasr cmd ARGS`: " (the usage line says it), no Markdown/reST
    code marks (``x``, `x`), a capital first letter."""
    text = re.sub(r"`+", "", re.sub(r"^`kizunasr [^`]*`:\s*", "", text))
    return text[:1].upper() + text[1:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options.resolve_output(parser, args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="kizunasr: %(levelname)s: %(message)s")
    # torch.compile's kernels (Torch(compile=True)) survive reboots in the user cache; torch reads only this variable
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(paths.torchinductor_cache_dir()))
    try:
        return int(args.run(args))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM where a command stops on it (cluster: Terminated)
        print(f"kizunasr: {str(exc) or 'interrupted'}", file=sys.stderr)
        return int(getattr(exc, "exit_status", 130))
    except (KizunaError, vs.Error, OSError) as exc:  # reported by the package, VapourSynth or the system: one line
        print(f"kizunasr {args.command}: {error_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
