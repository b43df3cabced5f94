"""`kizunasr_vs.upscale`: a profile's encode chain for the clip's resolution, then an optional resize."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError, InputError, named_errors
from kizunasr_vs.core.formats import check_format, resolve_color
from kizunasr_vs.media.colours import to_player_color
from kizunasr_vs.models.errors import ModelError
from kizunasr_vs.profiles.chain import build_pipeline, steps_to_reach
from kizunasr_vs.profiles.fit import fit_inside, fitted_size, sample_aspect
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
    """Upscale ``clip`` with the profile's encode chain for its height; with ``target`` (a (width, height) pair
    or "WxH"), the chain stops enlarging once it covers the target, and the picture is fitted inside the target at
    the clip's display aspect (its ``_SARNum``/``_SARDen`` counted) in square pixels, padded with black
    (profiles/fit.py). The result is in the colours `kizunasr encode` writes: BT.601 YUV that comes out HD is
    converted to BT.709 (media/colours.py), and all five colour props are set. ``backend`` runs the profile's
    models, as in ``kizunasr_vs.onnx``; ``provider`` is its deprecated alias.

    Raises ``vs.Error`` with the profile problem, a missing or damaged model's fetch command, or a stage
    failure.
    """
    fmt = check_format(clip, "upscale")
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
    props = clip.get_frame(0).props
    color = resolve_color(clip, props)
    picture = None
    if size is not None:
        if (size[0] % (1 << fmt.subsampling_w)) or (size[1] % (1 << fmt.subsampling_h)):
            raise FilterError(f"target {size[0]}x{size[1]} cannot hold {fmt.name} (subsampled chroma needs even "
                              f"sizes); use {size[0] // 2 * 2}x{size[1] // 2 * 2}")
        picture = fitted_size(clip.width, clip.height, sample_aspect(clip, props), size)
        steps = steps_to_reach(steps, (clip.width, clip.height), picture)
    try:
        out = build_pipeline(steps, backend).apply(clip)
    except (FileNotFoundError, LookupError, ModelError) as exc:
        raise FilterError(f"profile '{chosen.name}': {exc}") from exc
    if size is not None and picture is not None:
        out = fit_inside(out, picture, size, color.range)
    return to_player_color(out, color)


__all__ = ["PREFERENCES", "upscale"]
