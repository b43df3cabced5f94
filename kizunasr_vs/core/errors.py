"""The package's errors: ``except KizunaError`` catches any failure KizunaSR reports itself (a bad profile, a
missing model, a failed encode...), and the CLI prints it as one line instead of a traceback.

Each error class also keeps a built-in base (ValueError, FileNotFoundError, vs.Error...), so ``except`` clauses
written for those still catch it. Filter errors are ``FilterError``: a ``vs.Error`` bound to the filter that
raised it (``named_errors``), whose message starts with the filter's name; no message adds that name by hand.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import vapoursynth as vs


class KizunaError(Exception):
    """Base class of every error class defined in kizunasr_vs."""


class InputError(KizunaError, ValueError):
    """A value the user gave cannot be used; the message says which and what would do."""


class NotFound(KizunaError, FileNotFoundError):  # noqa: N818 - reads as "raise NotFound(...)"
    """A file, folder or name the user gave is not there; the message lists where it was looked for."""


class FilterError(KizunaError, vs.Error):
    """An error of a filter (``kz.shader``, ``kz.onnx``, ``kz.upscale``) or of the graph it builds.

    ``func`` is the filter that raised it, set once (the innermost filter) by ``named_errors`` or by the
    raiser; each filter it passes through starts the message with its name, unless the message already does
    ("shader 'x.glsl': ..."): "upscale: shader: ..." reads outside in."""

    def __init__(self, message: str, func: str | None = None) -> None:
        super().__init__(message)
        self.func: str | None = None
        if func is not None:
            self.bind(func)

    def __str__(self) -> str:  # (vs.Error's reads its own copy of the message, which bind() does not change)
        return str(self.args[0]) if self.args else ""

    def bind(self, func: str) -> FilterError:
        """Name ``func`` as the filter this passed through (see the class docstring); returns the error."""
        if self.func is None:
            self.func = func
        text = str(self)
        if not re.match(rf"{re.escape(func)}(:| '[^']*':)", text):
            self.args = (f"{func}: {text}",)
        return self


P = ParamSpec("P")
R = TypeVar("R")


def named_errors(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Bind every ``vs.Error`` the filter ``name`` raises to it: a ``FilterError`` (kept, or made from a plain
    ``vs.Error`` of VapourSynth or a plugin) whose message starts with the filter's name, whichever helper
    raised it."""

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def named(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except FilterError as exc:
                exc.bind(name)
                raise
            except vs.Error as exc:
                raise FilterError(str(exc), name) from exc

        return named

    return wrap
