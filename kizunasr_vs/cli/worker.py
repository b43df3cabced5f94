"""`kizunasr worker`: the process ``mpv_scripts/kizunasr.lua`` starts; talks to mpv over JSON IPC."""

from __future__ import annotations

import argparse
import logging
import sys


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ipc", required=True, metavar="SOCKET", help="mpv's --input-ipc-server socket path")
    p.add_argument("--profile", default="auto", help="profile name, auto[:preference] or a .json path")
    p.add_argument("--no-ai", dest="ai", action="store_false", help="start with the AI still on pause off")
    p.add_argument("--debounce-ms", type=int, default=250, help="wait this long after a pause (default 250)")
    p.add_argument("--no-osd", dest="osd", action="store_false", help="no on-screen messages from the worker")
    p.add_argument("--provider", default="auto", help="onnxruntime provider for pause models (default auto)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="serve mpv_scripts/kizunasr.lua: the AI still on pause",
                       description="The process the mpv script starts: resolves the profile and makes the AI still "
                                   "on pause, over mpv's JSON IPC socket. Not run by hand.")
    _add_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kizunasr_vs.core.paths import worker_log
    from kizunasr_vs.mpv.worker import serve

    logging.getLogger("kizunasr.worker").setLevel(logging.INFO if worker_log() else logging.WARNING)
    return serve(args.ipc, args.profile, args.ai, args.debounce_ms, args.provider, show_osd=args.osd)


def main(argv: list[str] | None = None) -> int:
    """``python -m kizunasr_vs.cli.worker``: the same without the ``kizunasr`` entry point."""
    parser = argparse.ArgumentParser(prog="kizunasr worker")
    _add_arguments(parser)
    logging.basicConfig(level=logging.WARNING, format="kizunasr worker: %(levelname)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
