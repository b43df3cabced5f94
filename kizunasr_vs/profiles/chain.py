"""Turn a profile's chain of steps into stages and run them on a clip."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.core.stage import FunctionStage, Pipeline, Stage
from kizunasr_vs.profiles.loader import Step

if TYPE_CHECKING:
    from kizunasr_vs.inference.backends import Backend

RESIZE_KERNELS = {"lanczos": "Lanczos", "spline36": "Spline36", "bicubic": "Bicubic", "bilinear": "Bilinear",
                  "point": "Point"}


def resolve_model(name: str) -> Path:
    """A registry name, a file in the models folder, or a path (see ``models.store.find_model``)."""
    from kizunasr_vs.models.store import find_model

    return find_model(name)


def _shader_stage(steps: list[Step]) -> Stage:
    """One stage for consecutive shader steps: one shader() call, which runs them in as few renders as it can."""
    from kizunasr_vs.render.placebo import shader

    paths = [str(shader_path(step["shader"])) for step in steps]
    params = steps[0].get("params") if len(steps) == 1 else None
    name = "shader " + " + ".join(Path(path).name for path in paths)
    return FunctionStage(name, lambda c: shader(c, paths, params=params))


def _shader_runs(steps: list[Step]) -> list[list[Step]]:
    """Steps grouped: consecutive shader steps without params share a group; other steps stand alone (shader()
    applies a param to every shader of its list that declares it)."""
    groups: list[list[Step]] = []
    for step in steps:
        joins = "shader" in step and not step.get("params")
        if joins and groups and "shader" in groups[-1][0] and not groups[-1][0].get("params"):
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _compiled_model_stage(step: Step) -> Stage:
    from kizunasr_vs.compiler.cache import cached_glsl
    from kizunasr_vs.render.placebo import shader

    model = resolve_model(step["compiled_model"])
    precision = step.get("precision", "fp16")
    glsl = cached_glsl(model, "MAIN", precision)
    return FunctionStage(f"glsl {model.stem}", lambda c: shader(c, str(glsl)))


def _model_stage(step: Step, backend: str | Backend) -> Stage:
    from kizunasr_vs.inference.backends import Torch
    from kizunasr_vs.inference.onnx_filter import onnx

    model = resolve_model(step["model"])
    kwargs: dict[str, Any] = {"backend": backend}
    if "fp16" in step:
        if isinstance(backend, str):
            kwargs["fp16"] = step["fp16"]
        elif hasattr(backend, "fp16") and not isinstance(backend, Torch):  # an object carries its own settings
            kwargs["backend"] = dataclasses.replace(backend, fp16=step["fp16"])
    if "tile" in step:
        kwargs["tile"] = step["tile"]
    return FunctionStage(f"model {model.stem}", lambda c: onnx(c, str(model), **kwargs))


def resize_to(clip: vs.VideoNode, width: int, height: int, kernel: str = "spline36") -> vs.VideoNode:
    """Resize with a kernel of RESIZE_KERNELS, keeping format and props."""
    if kernel not in RESIZE_KERNELS:
        raise FilterError(f"unknown resize kernel '{kernel}'; choose one of {', '.join(RESIZE_KERNELS)}")
    return getattr(clip.resize, RESIZE_KERNELS[kernel])(width, height)


def _resize_stage(step: Step) -> Stage:
    spec = step["resize"]
    scale = float(spec.get("scale", 1.0))
    kernel = spec.get("kernel", "spline36")

    def apply(clip: vs.VideoNode) -> vs.VideoNode:
        width, height = round(clip.width * scale / 2) * 2, round(clip.height * scale / 2) * 2
        return resize_to(clip, width, height, kernel)

    return FunctionStage(f"resize x{scale:g} {kernel}", apply)


Size = tuple[int, int]


def model_scale(name: str) -> int | None:
    """The registry's scale for a model given by registry name or by a registered model's file; None when the
    model is not registered (its scale is known only once a session has run it)."""
    from kizunasr_vs.models.registry import load_registry

    registry = load_registry()
    if name in registry:
        return registry[name].scale
    file = Path(name).name
    return next((e.scale for e in registry.values() if file in (e.file, e.file.removesuffix(".onnx"))), None)


def step_size(step: Step, size: Size) -> Size | None:
    """The output size of ``step`` on a frame of ``size`` (width, height), worked out without running it; None
    when it cannot be known beforehand (an unregistered model)."""
    from kizunasr_vs.render.source import infer_output_size, load_shader

    width, height = size
    if "shader" in step:
        return infer_output_size(load_shader(shader_path(step["shader"])), width, height)
    if "model" in step or "compiled_model" in step:
        scale = model_scale(step.get("model") or step["compiled_model"])
        return None if scale is None else (width * scale, height * scale)
    if "resize" in step:
        factor = float(step["resize"].get("scale", 1.0))
        return round(width * factor / 2) * 2, round(height * factor / 2) * 2
    return None


def steps_to_reach(steps: list[Step], size: Size, picture: Size) -> list[Step]:
    """``steps`` without the enlarging steps that would run once the frames (``size`` at first) cover
    ``picture``: a chain stops upscaling at the target, which a final resize meets. Steps that do not enlarge
    (sharpening, a resize down) stay, and so do all from a step whose size cannot be known beforehand on."""
    kept: list[Step] = []
    current: Size | None = size  # None once a step's size is unknown: the rest is kept as it is
    for step in steps:
        after = step_size(step, current) if current is not None else None
        if (current is not None and after is not None and current[0] >= picture[0] and current[1] >= picture[1]
                and after[0] * after[1] > current[0] * current[1]):
            continue
        kept.append(step)
        current = after
    return kept


def check_steps(steps: list[Step], profile: str) -> None:
    """Check that every shader and model of ``steps`` is there (models intact) and every step is known, without
    building a filter or loading a model; FilterError (of upscale) names the profile and the fix."""
    from kizunasr_vs.models.errors import ModelError

    for step in steps:
        try:
            if "shader" in step:
                shader_path(step["shader"])
            elif "model" in step or "compiled_model" in step:
                resolve_model(step.get("model") or step["compiled_model"])
            elif "resize" in step:
                kernel = step["resize"].get("kernel", "spline36")
                if kernel not in RESIZE_KERNELS:
                    raise LookupError(f"unknown resize kernel '{kernel}'; choose one of {', '.join(RESIZE_KERNELS)}")
            else:
                raise LookupError(f"unknown step {step}; expected shader, compiled_model, model or resize")
        except (FileNotFoundError, LookupError, ModelError) as exc:
            raise FilterError(f"profile '{profile}': {exc}", "upscale") from exc


def build_pipeline(steps: list[Step], backend: str | Backend = "auto") -> Pipeline:
    """One stage per step, in order; consecutive shader steps make one stage (see ``_shader_stage``)."""
    stages: list[Stage] = []
    for group in _shader_runs(steps):
        step = group[0]
        if "shader" in step:
            stages.append(_shader_stage(group))
        elif "compiled_model" in step:
            stages.append(_compiled_model_stage(step))
        elif "model" in step:
            stages.append(_model_stage(step, backend))
        elif "resize" in step:
            stages.append(_resize_stage(step))
        else:
            raise FilterError(f"unknown step {step}; expected shader, compiled_model, model or resize")
    return Pipeline(stages)
