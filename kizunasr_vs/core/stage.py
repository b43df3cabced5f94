"""The stage interface and the pipeline that chains stages into one VapourSynth graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError


@runtime_checkable
class Stage(Protocol):
    """One processing step: takes a clip, returns a clip."""

    name: str

    def apply(self, clip: vs.VideoNode) -> vs.VideoNode: ...


@dataclass
class FunctionStage:
    """A stage made from a plain function ``clip -> clip``."""

    name: str
    func: Callable[[vs.VideoNode], vs.VideoNode]

    def apply(self, clip: vs.VideoNode) -> vs.VideoNode:
        return self.func(clip)


@dataclass
class Pipeline:
    """An ordered chain of stages built into one VapourSynth node graph."""

    stages: list[Stage] = field(default_factory=list)

    def then(self, stage: Stage) -> Pipeline:
        """A new pipeline with ``stage`` appended."""
        return Pipeline([*self.stages, stage])

    @property
    def names(self) -> Sequence[str]:
        return [s.name for s in self.stages]

    def apply(self, clip: vs.VideoNode) -> vs.VideoNode:
        """Run every stage in order; a stage that fails is named in the error."""
        for stage in self.stages:
            try:
                clip = stage.apply(clip)
            except vs.Error as exc:
                raise FilterError(f"stage '{stage.name}': {exc}") from exc
        return clip

    __call__ = apply
