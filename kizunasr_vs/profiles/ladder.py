"""The realtime ladder: the chains the mpv script's governor steps through when playback does not keep up.

``mpv_scripts/kizunasr.lua`` builds the same ladder from the same JSON (tests/mpv/test_lua_pure.py checks that
the two agree for every height).
"""

from __future__ import annotations

from kizunasr_vs.profiles.loader import Profile, Step, builtin_profiles_dir, load_profile_file

LADDER_ORDER = ("quality", "balanced", "performance")  # built-in preferences, most expensive first


def cheaper_builtins(preference: str | None) -> tuple[str, ...]:
    """The built-in profiles below ``preference`` in LADDER_ORDER (none for an unknown or missing one)."""
    if preference not in LADDER_ORDER:
        return ()
    return LADDER_ORDER[LADDER_ORDER.index(preference) + 1:]


def realtime_ladder(profile: Profile, height: int) -> list[list[Step]]:
    """``[realtime, fallback..., []]`` for a source of ``height`` lines, heaviest first; ``[]`` is mpv's own scaler.

    A range without ``fallback`` takes the realtime chains of the cheaper built-in profiles (by the profile's
    ``preference``) for the same height. A chain already on the ladder is not repeated. ProfileError when no
    range covers ``height``.
    """
    chains = profile.for_height(height)
    if chains.fallback is not None:
        rungs = [chains.realtime, *chains.fallback]
    else:
        builtins = builtin_profiles_dir()
        rungs = [chains.realtime, *(load_profile_file(builtins / f"{name}.json").for_height(height).realtime
                                    for name in cheaper_builtins(profile.preference))]
    ladder: list[list[Step]] = []
    for rung in [*rungs, []]:
        if rung not in ladder:
            ladder.append(rung)
    return ladder
