"""``kizunasr_vs.onnx`` as users call it: the model may be a registry name or a file in the models folder.

The filter itself (``onnx.onnx_filter.onnx``) sits below the model registry and takes paths or bytes; this
resolves names first (``store.find_model``: registry, models folder, then paths), with the same error style.
"""

from __future__ import annotations

import os
from typing import Any

import vapoursynth as vs

from kizunasr_vs.inference import onnx_filter
from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.models.store import find_model


def onnx(clip: vs.VideoNode, model: str | os.PathLike[str] | bytes, *args: Any, **kwargs: Any) -> vs.VideoNode:
    """Run an ONNX model on ``clip``: a registry name, a file in the models folder, a path or bytes; the other
    arguments are those of :func:`kizunasr_vs.inference.onnx_filter.onnx`."""
    if isinstance(clip, vs.VideoNode) and isinstance(model, str | os.PathLike):
        try:
            model = find_model(model)
        except (FileNotFoundError, ModelError) as exc:
            raise vs.Error(f"{onnx_filter.WHO}: {exc}") from None
    return onnx_filter.onnx(clip, model, *args, **kwargs)


onnx.__doc__ = (onnx.__doc__ or "") + "\n\n" + (onnx_filter.onnx.__doc__ or "")
