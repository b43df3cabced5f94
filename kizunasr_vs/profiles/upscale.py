"""`kizunasr_vs.upscale`: a profile's encode chain for the clip's resolution, then an optional resize."""

from __future__ import annotations

from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.profiles.chain import build_pipeline, resize_to
from kizunasr_vs.profiles.loader import Profile, ProfileError, load_profile
from kizunasr_vs.profiles.select import PREFERENCES, auto_profile


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


def upscale(clip: vs.VideoNode, profile: str | Path | Profile = "auto",
            target: tuple[int, int] | None = None, provider: str = "auto") -> vs.VideoNode:
    """Upscale ``clip`` with the profile's encode chain for its height; resize to ``target`` if given.

    Raises ``vs.Error`` with the profile problem, a missing or damaged model's fetch command, or a stage
    failure.
    """
    try:
        chosen = resolve_profile(profile)
        steps = chosen.for_height(clip.height).encode
    except (ProfileError, ValueError) as exc:
        raise vs.Error(f"upscale: {exc}") from exc
    try:
        out = build_pipeline(steps, provider).apply(clip)
    except (FileNotFoundError, LookupError, ModelError) as exc:
        raise vs.Error(f"upscale: profile '{chosen.name}': {exc}") from exc
    if target is not None:
        width, height = target
        if width <= 0 or height <= 0:
            raise vs.Error(f"upscale: target must be positive (width, height), got {target}")
        out = resize_to(out, width, height)
    return out


__all__ = ["PREFERENCES", "upscale"]
