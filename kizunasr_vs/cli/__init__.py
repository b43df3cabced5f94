"""The `kizunasr` command line: one module per sub-command, wired in main.py."""

from kizunasr_vs.cli.main import main

__all__ = ["main"]
