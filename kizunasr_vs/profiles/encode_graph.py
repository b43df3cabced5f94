"""The graph of one encode, built in one place for `encode`, `upscale`, `batch`, the cluster's driver and its
workers: the source opened and cut to the job's frames, the upscaler resolved (a profile's encode chain for the
source's height, or one model or shader), the resize to the target, and ffmpeg's settings.

``plan_encode`` does all of it but the filters, and checks that every file of the chain is there, so the
cluster's driver validates a job without creating a model session; ``EncodePlan.build`` adds the filters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.core.formats import resolve_color
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.media.colours import player_color
from kizunasr_vs.media.encoder import EncodeSettings
from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.media.timing import probe_frame_times
from kizunasr_vs.profiles.chain import check_steps, steps_to_reach
from kizunasr_vs.profiles.fit import fitted_size, sample_aspect
from kizunasr_vs.profiles.loader import Profile, RangeChains, Step
from kizunasr_vs.profiles.memory import NotEnoughMemory, amount, available_memory, estimate, fit
from kizunasr_vs.profiles.upscale import resolve_profile, upscale

log = logging.getLogger("kizunasr")

DEFAULT_SHADER = "kizuna_edge2x.glsl"  # `kizunasr upscale` with no model installed: KizunaSR's line-art 2x


@dataclass(frozen=True)
class Upscaler:
    """What upscales an encode's frames: ``profile`` ('auto', 'auto:<preference>', a name, a path or a Profile),
    else ``model`` or ``shader`` (one step), else the smallest installed model trained for the source's height,
    else DEFAULT_SHADER; then a resize to ``target``. ``provider`` runs the models."""

    profile: str | Path | Profile | None = "auto"
    model: Path | None = None
    shader: Path | None = None
    target: tuple[int, int] | None = None
    provider: str = "auto"
    max_memory: int | None = None  # bytes the chain may use; None: what the system has available

    def resolve(self, height: int) -> Profile:
        """The profile whose encode chain runs on a source of ``height`` lines (a one-step profile for a model or
        shader); ProfileError when a named profile cannot be used."""
        if self.profile is not None:
            return resolve_profile(self.profile)
        model = None if self.shader is not None else (self.model or default_model(height))
        if model is not None:
            return one_step_profile(f"model {model.name}", {"model": str(model)}, model)
        shader = self.shader or shader_path(DEFAULT_SHADER)
        return one_step_profile(f"shader {shader.name}", {"shader": str(shader)}, shader)


def one_step_profile(name: str, step: Step, path: Path) -> Profile:
    """A profile running ``step`` on sources of any height (`upscale --model/--shader`)."""
    return Profile(name, name, {}, [RangeChains(None, [step], [step], [step])], path)


def default_model(height: int | None = None) -> Path | None:
    """The first installed registry model (smallest first) trained for sources of ``height`` (any when None),
    checked against the registry's sha256 (ChecksumError, with the command that replaces it, when the file is
    damaged)."""
    from kizunasr_vs.models.registry import load_registry
    from kizunasr_vs.models.store import installed_path, model_path

    for entry in load_registry().values():
        if installed_path(entry) is not None and (height is None or entry.suits_height(height)):
            return model_path(entry.name)
    return None


@dataclass(frozen=True)
class EncodePlan:
    """One encode with everything decided but the filters: ``source`` (the job's frames, from frame ``first`` of
    the input), ``profile`` (whose encode chain for the source's height runs), ``target``, ``provider`` and
    ffmpeg's ``settings``."""

    job: EncodeJob
    source: vs.VideoNode
    first: int
    profile: Profile
    target: tuple[int, int] | None
    provider: str
    settings: EncodeSettings
    what: str  # for the command's summary line: "profile quality", "model x.onnx", "shader y.glsl"

    @property
    def steps(self) -> list[Step]:
        return self.profile.for_height(self.source.height).encode

    def build(self, clip: vs.VideoNode | None = None) -> vs.VideoNode:
        """The upscaled clip: the chain and the resize on ``clip`` (default: the job's frames)."""
        return upscale(self.source if clip is None else clip, self.profile, self.target, backend=self.provider)

    def settings_for(self, upscaled: vs.VideoNode) -> EncodeSettings:
        """ffmpeg's settings for ``upscaled`` (what ``build`` made): its colours are those upscale leaves."""
        return upscaled_settings(self.settings, upscaled)


def runs_on_cpu(provider: str) -> bool:
    """Whether models run on the CPU with ``provider`` ('auto': when onnxruntime has no GPU here)."""
    from kizunasr_vs.profiles.select import detect_machine

    return provider == "cpu" or (provider == "auto" and not detect_machine().gpu)


def fit_chain(profile: Profile, source: vs.VideoNode, sar: Fraction, upscaler: Upscaler, name: str) -> Profile:
    """``profile`` with its chain for ``source`` fitted in the memory (profiles/memory.py): model steps in tiles
    where whole frames would not fit (said in a warning); NotEnoughMemory when even tiles do not fit."""
    available = upscaler.max_memory if upscaler.max_memory is not None else available_memory()
    if available is None:
        return profile
    size = (source.width, source.height)
    steps = profile.for_height(source.height).encode
    if upscaler.target is not None:
        steps = steps_to_reach(steps, size, fitted_size(*size, sar, upscaler.target))
    fitted = fit(steps, size, runs_on_cpu(upscaler.provider), available)
    if fitted.needed > available:
        raise NotEnoughMemory(f"{name}: the chain needs about {amount(fitted.needed)} of memory for {size[0]}x{size[1]}"
                              f" frames (its models in tiles as small as they go), and {amount(available)} is "
                              "available: free memory, run the models on a GPU (--provider cuda) or choose a "
                              "smaller --target")
    if fitted.tile is None:
        return profile
    log.warning("%s: whole %dx%d frames would need about %s of memory, %s is available: the models run in %d-pixel "
                "tiles", name, *size, amount(estimate(steps, size, True)), amount(available), fitted.tile)
    return replace(profile, ranges=[replace(profile.for_height(source.height), max_height=None,
                                            encode=fitted.steps)])


def upscaled_settings(settings: EncodeSettings, upscaled: vs.VideoNode) -> EncodeSettings:
    """``settings`` (made with the source's colours) for ``upscaled``, in the colours ``upscale`` gave it."""
    assert settings.color is not None
    return replace(settings, color=player_color(upscaled, settings.color))


def plan_encode(job: EncodeJob, upscaler: Upscaler, source: vs.VideoNode | None = None,
                fit_memory: bool = True) -> EncodePlan:
    """Open the job's input (unless ``source`` is the whole input, already open), cut it to the job's frames,
    resolve the upscaler for its height and check that the chain's shaders and models are there (no filter is
    built, no model loaded); with ``fit_memory``, the models run in tiles where whole frames would not fit in
    the memory (``fit_chain``). Raises FilterError, InputError, ProfileError, NotEnoughMemory or EncodeError."""
    whole = source if source is not None else job.open_source()
    times = probe_frame_times(job.input, whole.num_frames) if job.input is not None else None
    trimmed, first = job.trim(whole, times)
    profile = upscaler.resolve(trimmed.height)
    check_steps(profile.for_height(trimmed.height).encode, profile.name)
    props = trimmed.get_frame(0).props
    if fit_memory:
        profile = fit_chain(profile, trimmed, sample_aspect(trimmed, props), upscaler, job.name)
    settings = job.settings(trimmed, first, resolve_color(trimmed, props), times)
    sar = sample_aspect(trimmed, props)
    if upscaler.target is None and sar != 1:  # an anamorphic source keeps its display aspect (with a target the
        settings = replace(settings, display_aspect=trimmed.width * sar / trimmed.height)  # pixels are square)
    what = profile.name if upscaler.profile is None else f"profile {profile.name}"
    return EncodePlan(job, trimmed, first, profile, upscaler.target, upscaler.provider, settings, what)
