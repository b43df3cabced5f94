"""The `kizunasr` command line: doctor, upscale, bench."""

from kizunasr_vs.cli.main import main

__all__ = ["main"]
