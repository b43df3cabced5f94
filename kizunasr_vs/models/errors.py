"""Errors raised by the model manager; each message says what to do next."""

from __future__ import annotations

from kizunasr_vs.core.errors import KizunaError


class ModelError(KizunaError):
    """Base class for model manager errors."""


class RegistryError(ModelError, ValueError):
    """A registry file (built-in or the user's models.json) is malformed; the message names file and fault."""


class UnknownModelError(ModelError, LookupError):
    """No registry entry has this name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown model {name!r}; known models: {', '.join(known) or '(none)'}")


class ModelMissingError(ModelError, FileNotFoundError):
    """The model is registered but its file is not installed."""


class ChecksumError(ModelError):
    """A file's sha256 is not the one the registry expects; nothing was kept."""


class InvalidModelError(ModelError):
    """A file offered as a model is not ONNX, or onnxruntime cannot run it; nothing was imported."""


class DownloadError(ModelError):
    """A download failed (HTTP error, or connection errors after all retries)."""
