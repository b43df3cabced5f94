"""The root of the package's own errors: ``except KizunaError`` catches any failure KizunaSR reports itself
(a bad profile, a missing model, a failed encode...), and the CLI prints it as one line instead of a traceback.

Each error class also keeps the built-in base it had (ValueError, RuntimeError, vs.Error...), so existing
``except`` clauses still catch it.
"""

from __future__ import annotations


class KizunaError(Exception):
    """Base class of every error class defined in kizunasr_vs."""
