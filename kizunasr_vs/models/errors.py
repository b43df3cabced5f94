"""Errors raised by the model manager; each message says what to do next."""

from __future__ import annotations

import difflib

from kizunasr_vs.core.errors import KizunaError


class ModelError(KizunaError):
    """Base class for model manager errors."""


class RegistryError(ModelError, ValueError):
    """A registry file (built-in or the user's models.json) is malformed; the message names file and fault."""


def unknown_message(names: list[str], known: list[str]) -> str:
    """Which names are unknown, the known names closest to each (a typo), and where the whole list is; the known
    list itself is not repeated (it is `kizunasr models list`, and may hold many models of the user's)."""
    close = [m for n in names for m in difflib.get_close_matches(n, known, n=3, cutoff=0.6)]
    hint = f"; did you mean {' or '.join(repr(m) for m in dict.fromkeys(close))}?" if close else ""
    label = "model" if len(names) == 1 else "models"
    return f"unknown {label} {', '.join(repr(n) for n in names)}{hint} (`kizunasr models list` shows the known models)"


class UnknownModelError(ModelError, LookupError):
    """No registry entry has this name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(unknown_message([name], known))


class ModelMissingError(ModelError, FileNotFoundError):
    """The model is registered but its file is not installed."""


class ChecksumError(ModelError):
    """A file's sha256 is not the one the registry expects; nothing was kept."""


class InvalidModelError(ModelError):
    """A file offered as a model is not ONNX, or onnxruntime cannot run it; nothing was imported."""


class DownloadError(ModelError):
    """A download failed (HTTP error, or connection errors after all retries)."""
