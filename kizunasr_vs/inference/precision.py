"""The short names of the float precisions a model runs in ("fp32", "fp16", "bf16"), as `kizunasr bench` states
them for each runner and for the model alone."""

from __future__ import annotations

_SHORT = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def precision_name(dtype: object) -> str:
    """"fp32", "fp16" or "bf16" for a numpy or torch float dtype (any other dtype: its own name)."""
    name = str(dtype).removeprefix("torch.")
    return _SHORT.get(name, name)
