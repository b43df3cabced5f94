"""The `kizunasr` command line: doctor, upscale, encode, models, bench."""

from kizunasr_vs.cli.main import main

__all__ = ["main"]
