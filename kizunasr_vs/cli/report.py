"""An error as the command line reports it: one line."""

from __future__ import annotations

import re

import vapoursynth as vs

_RAISED_AS = re.compile(r"^(?:\w+\.)*\w*(?:Error|Exception): ")  # "vapoursynth.Error: ", "kizunasr_vs....FilterError: "


def error_line(exc: BaseException) -> str:
    """The error's message in one line; for an error raised while a frame was rendered, its last line (VapourSynth
    puts the Python traceback of the frame callback before it)."""
    lines = str(exc).strip().splitlines()
    if not isinstance(exc, vs.Error) or len(lines) < 2:
        return " ".join(lines)
    return _RAISED_AS.sub("", lines[-1], count=1)
