"""KizunaSR for VapourSynth: GLSL shader and ONNX model upscaling filters.

Use in a ``.vpy`` script::

    import kizunasr_vs as kz
    clip = kz.shader(clip, "glsl/kizuna_edge2x.glsl")
    clip = kz.onnx(clip, "model.onnx")

The filters are imported on first use, so ``import kizunasr_vs`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizunasr_vs.core.stage import ConditionalStage, FunctionStage, Pipeline, Stage

if TYPE_CHECKING:
    from kizunasr_vs.runtime.onnx_filter import onnx
    from kizunasr_vs.runtime.placebo import shader

__version__ = "0.1.0"
__all__ = ["ConditionalStage", "FunctionStage", "Pipeline", "Stage", "onnx", "shader", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "shader":
        from kizunasr_vs.runtime.placebo import shader as func
    elif name == "onnx":
        from kizunasr_vs.runtime.onnx_filter import onnx as func
    else:
        raise AttributeError(f"module 'kizunasr_vs' has no attribute {name!r}")
    return func
