"""Cache of GLSL shaders compiled from ONNX models (see :mod:`kizunasr_vs.compiler.glsl`).

Shaders live in ``glsl/`` of the user cache dir (``core.paths.cache_dir``: ``$KIZUNASR_CACHE_DIR``,
else the platform's: ``$XDG_CACHE_HOME/kizunasr``, ``~/.cache/kizunasr`` on Linux).
A file is keyed by the model's sha256, the hook, the precision and the compiler version, so an
edited model or a new compiler gets a new file and a cached file is never recompiled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from kizunasr_vs.compiler.glsl import COMPILER_VERSION, Hook, Precision, export_glsl
from kizunasr_vs.core.files import sha256_file
from kizunasr_vs.core.paths import cache_dir as user_cache_dir


def cache_dir() -> Path:
    """The folder compiled shaders are stored in (not created here)."""
    return user_cache_dir() / "glsl"


def cache_path(model_path: str | os.PathLike[str], hook: Hook = "MAIN", precision: Precision = "fp32") -> Path:
    """Where the shader for this model / hook / precision is (or would be) cached."""
    model = Path(model_path)
    key = f"{sha256_file(model)}|{hook.upper()}|{precision.lower()}|{COMPILER_VERSION}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"{model.stem}.{hook.upper()}.{precision.lower()}.{tag}.glsl"


def cached_glsl(model_path: str | os.PathLike[str], hook: Hook = "MAIN", precision: Precision = "fp32") -> Path:
    """Path of the compiled shader for ``model_path``, compiling it on first use.

    Raises :class:`~kizunasr_vs.compiler.glsl.CompileError` (nothing cached) if the
    model cannot be compiled, and ``FileNotFoundError`` if it does not exist.
    """
    path = cache_path(model_path, hook, precision)
    if not path.is_file():
        export_glsl(model_path, path, hook, precision)
    return path
