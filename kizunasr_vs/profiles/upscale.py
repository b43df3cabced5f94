"""`kizunasr_vs.upscale`: a profile's encode chain for the clip's resolution, then an optional resize."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError, InputError, named_errors
from kizunasr_vs.core.formats import check_format
from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.profiles.chain import build_pipeline, resize_to
from kizunasr_vs.profiles.loader import Profile, ProfileError, load_profile
from kizunasr_vs.profiles.select import PREFERENCES, auto_profile

if TYPE_CHECKING:
    from kizunasr_vs.inference.backends import Backend


def resolve_profile(profile: str | Path | Profile) -> Profile:
    """A Profile from 'auto', 'auto:<preference>', a preference/profile name, or a path."""
    if isinstance(profile, Profile):
        return profile
    name = str(profile)
    if name == "auto":
        return auto_profile()
    if name.startswith("auto:"):
        return auto_profile(name.split(":", 1)[1])
    return load_profile(profile)


def parse_target(target: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``(width, height)`` from a pair or a "WxH" string such as "3840x2160"; ValueError says what is wrong."""
    if target is None:
        return None
    if isinstance(target, str):
        width, _, height = target.strip().lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise InputError(f"target '{target}' must look like 3840x2160 (or be a (width, height) pair)")
        target = (int(width), int(height))
    if (not isinstance(target, tuple | list) or len(target) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in target)):
        raise InputError(f"target must be a positive (width, height) pair or a string like 3840x2160, not {target!r}")
    return int(target[0]), int(target[1])


@named_errors("upscale")
def upscale(clip: vs.VideoNode, profile: str | Path | Profile = "auto", target: str | tuple[int, int] | None = None,
            *, backend: str | Backend = "auto", provider: str | None = None) -> vs.VideoNode:
    """Upscale ``clip`` with the profile's encode chain for its height; resize to ``target`` (a (width, height)
    pair or "WxH") if given. ``backend`` runs the profile's models, as in ``kizunasr_vs.onnx``; ``provider`` is
    its deprecated alias.

    Raises ``vs.Error`` with the profile problem, a missing or damaged model's fetch command, or a stage
    failure.
    """
    check_format(clip, "upscale")
    if provider is not None:
        warnings.warn("kizunasr_vs.upscale: provider= is deprecated; pass backend=", DeprecationWarning,
                      stacklevel=3)
        backend = provider
    try:
        size = parse_target(target)
    except ValueError as exc:
        raise FilterError(f"{exc}") from None
    try:
        chosen = resolve_profile(profile)
        steps = chosen.for_height(clip.height).encode
    except (ProfileError, ValueError) as exc:
        raise FilterError(f"{exc}") from exc
    try:
        out = build_pipeline(steps, backend).apply(clip)
    except (FileNotFoundError, LookupError, ModelError) as exc:
        raise FilterError(f"profile '{chosen.name}': {exc}") from exc
    if size is not None:
        out = resize_to(out, *size)
    return out


__all__ = ["PREFERENCES", "upscale"]
