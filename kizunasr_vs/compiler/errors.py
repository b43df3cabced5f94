"""The compiler's error type."""

from __future__ import annotations

from kizunasr_vs.core.errors import KizunaError


class CompileError(KizunaError, ValueError):
    """The model cannot be compiled to GLSL; the message names the node and op where it can."""
