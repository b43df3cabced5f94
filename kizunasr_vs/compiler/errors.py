"""The compiler's error type."""

from __future__ import annotations


class CompileError(ValueError):
    """The model cannot be compiled to GLSL; the message names the node and op where it can."""
