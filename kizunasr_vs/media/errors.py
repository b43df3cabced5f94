"""The errors of an encode that could not finish; each message says why and what to do."""

from __future__ import annotations

from kizunasr_vs.core.errors import KizunaError


class EncodeError(KizunaError, RuntimeError):
    """An encode that could not finish; the message says why and what to do."""


class OutputExistsError(EncodeError):
    """The output exists (or appeared while encoding) and may not be replaced; it is kept as it is."""
