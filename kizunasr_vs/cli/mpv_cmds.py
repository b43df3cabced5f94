"""`kizunasr install-mpv` (put KizunaSR into mpv's config dir) and `kizunasr play FILE` (libmpv player)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "install-mpv", help="install the KizunaSR mpv script, shaders, options and key bindings",
        description="Copy scripts/kizunasr.lua, shaders/kizunasr/*.glsl, script-opts/kizunasr.conf and "
                    "script-opts/kizunasr-profiles/*.json into mpv's config dir and add the key bindings to "
                    "input.conf between '# >>> kizunasr >>>' markers. Files of yours are never overwritten "
                    "(without --force); --uninstall removes only what was installed and is unchanged.")
    p.add_argument("--config-dir", type=Path,
                   help="mpv config dir (default: $MPV_HOME, else $XDG_CONFIG_HOME/mpv, else ~/.config/mpv)")
    p.add_argument("--uninstall", action="store_true", help="remove what a previous install wrote")
    p.add_argument("--dry-run", action="store_true", help="only say what would be done")
    p.add_argument("--force", action="store_true",
                   help="replace differing files (the old one is kept as NAME.kizunasr-bak)")
    p.set_defaults(run=run_install)

    p = sub.add_parser("play", help="play a file with KizunaSR's shaders and an AI still on pause (libmpv)")
    p.add_argument("file", help="video file or URL")
    p.add_argument("--profile", default="auto", help="performance, balanced, quality or auto (default)")
    p.set_defaults(run=run_play)


def run_install(args: argparse.Namespace) -> int:
    from kizunasr_vs.core.paths import mpv_config_dir
    from kizunasr_vs.mpv import install

    config = (args.config_dir or mpv_config_dir()).expanduser()
    outcomes = (install.uninstall(config, dry_run=args.dry_run) if args.uninstall
                else install.install(config, dry_run=args.dry_run, force=args.force))
    for outcome in outcomes:
        print(f"  {outcome}")
    verb = "uninstall" if args.uninstall else "install"
    print(f"{verb} {'(dry run) ' if args.dry_run else ''}in {config}: {install.summary(outcomes)}")
    return 0


def run_play(args: argparse.Namespace) -> int:
    from kizunasr_vs.mpv.play import Player

    Player(args.file, args.profile).run()
    return 0
