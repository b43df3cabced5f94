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

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.stage import ConditionalStage, FunctionStage, Pipeline, Stage

if TYPE_CHECKING:
    from kizunasr_vs.models.api import onnx
    from kizunasr_vs.onnx.backends import OrtCPU, OrtCUDA, OrtTensorRT, Torch
    from kizunasr_vs.profiles.upscale import upscale
    from kizunasr_vs.shader.placebo import shader

__version__ = "0.1.0"
__all__ = ["ConditionalStage", "FunctionStage", "KizunaError", "OrtCPU", "OrtCUDA", "OrtTensorRT", "Pipeline",
           "Stage", "Torch", "onnx", "shader", "upscale", "__version__"]


_LAZY = {
    "shader": "kizunasr_vs.shader.placebo",
    "onnx": "kizunasr_vs.models.api",
    "upscale": "kizunasr_vs.profiles.upscale",
    **{name: "kizunasr_vs.onnx.backends" for name in ("OrtCPU", "OrtCUDA", "OrtTensorRT", "Torch")},
}

# The packages kizunasr_vs.shader and kizunasr_vs.onnx share their names with the filters kz.shader() and
# kz.onnx(). Importing a package binds it as an attribute here, which would hide the filter from __getattr__
# below. So import the two (their __init__ is only a docstring: cheap) now and drop those attributes: later
# imports of modules inside them find the packages in sys.modules and bind nothing here again. Inside the
# package use ``from kizunasr_vs.shader.placebo import x`` / ``from kizunasr_vs.shader import placebo``, not
# ``import kizunasr_vs.shader.placebo as p`` (that form looks the package up as an attribute of kizunasr_vs).
for _room in ("shader", "onnx"):
    importlib.import_module(f"{__name__}.{_room}")
    del globals()[_room]
del _room


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'kizunasr_vs' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
