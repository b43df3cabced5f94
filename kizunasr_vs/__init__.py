"""KizunaSR for VapourSynth: GLSL shader and ONNX model upscaling filters.

Use in a ``.vpy`` script::

    import kizunasr_vs as kz
    clip = kz.onnx(clip, "animejanai-hd-v3-compact")   # registry name, file in the models folder, or path
    clip = kz.shader(clip, "kizuna_cas")               # built-in shader name, path, or shader text

The filters are imported on first use, so ``import kizunasr_vs`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kizunasr_vs.core.errors import FilterError, KizunaError
from kizunasr_vs.core.stage import FunctionStage, Pipeline, Stage

if TYPE_CHECKING:
    from kizunasr_vs.inference.backends import OrtCPU, OrtCUDA, OrtTensorRT, Torch
    from kizunasr_vs.models.api import onnx
    from kizunasr_vs.profiles.upscale import upscale
    from kizunasr_vs.render.placebo import shader

__version__ = "0.1.0"
__all__ = ["FilterError", "FunctionStage", "KizunaError", "OrtCPU", "OrtCUDA", "OrtTensorRT", "Pipeline",
           "Stage", "Torch", "onnx", "shader", "upscale", "__version__"]


_LAZY = {
    "shader": "kizunasr_vs.render.placebo",
    "onnx": "kizunasr_vs.models.api",
    "upscale": "kizunasr_vs.profiles.upscale",
    **{name: "kizunasr_vs.inference.backends" for name in ("OrtCPU", "OrtCUDA", "OrtTensorRT", "Torch")},
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'kizunasr_vs' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
