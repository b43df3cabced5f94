"""The model manager: registry of known models, the local store, and verified downloads.

    from kizunasr_vs.models import model_path
    onnx_file = model_path("animejanai-hd-v3-superultracompact")
"""

from kizunasr_vs.models.download import fetch
from kizunasr_vs.models.errors import (
    ChecksumError,
    DownloadError,
    InvalidModelError,
    ModelError,
    ModelMissingError,
    RegistryError,
    UnknownModelError,
)
from kizunasr_vs.models.registry import ModelEntry, get_entry, load_registry, suited
from kizunasr_vs.models.store import import_file, model_path, models_dir, verify

__all__ = ["ChecksumError", "DownloadError", "InvalidModelError", "ModelEntry", "ModelError", "ModelMissingError",
           "RegistryError", "UnknownModelError", "fetch", "get_entry", "import_file", "load_registry",
           "model_path", "models_dir", "suited", "verify"]
