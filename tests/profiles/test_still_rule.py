"""When a pause still adds something: the pause chain differs from the realtime chain and does more work."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizunasr_vs.profiles import load_profile
from kizunasr_vs.profiles.still_rule import chain_work, no_still_reason, shader_work

S, M, L = ({"shader": f"kizuna_cnn_x2_{t}.glsl"} for t in "sml")
CAS = {"shader": "kizuna_cas.glsl"}


def test_a_2x_shader_makes_the_next_step_run_on_four_times_the_pixels() -> None:
    assert shader_work("kizuna_cnn_x2_s.glsl")[1] == 4.0 and shader_work("kizuna_cas.glsl")[1] == 1.0
    s, _ = shader_work("kizuna_cnn_x2_s.glsl")
    assert chain_work([S, S]) == (0, pytest.approx(s + 4 * s))


@pytest.mark.parametrize(("realtime", "pause", "reason"), [
    ([S, S], [S, S], "its pause chain is the chain already playing"),
    ([S], [], "this profile has no pause chain for this source"),
    ([L], [S], "its pause chain is no heavier than the chain already playing"),
    ([S, S], [M], "its pause chain is no heavier than the chain already playing"),  # s twice: the 2nd on 4x pixels
    ([S], [CAS, CAS], "its pause chain is no heavier than the chain already playing"),
    ([S], [L], None),
    ([S, S], [L, S], None),
    ([L, M], [{"model": "animejanai-sd-v1beta34-compact"}], None),  # a model: more than any shader chain
    ([], [CAS], None),
])
def test_no_still_reason(realtime: list, pause: list, reason: str | None) -> None:
    assert no_still_reason(realtime, pause) == reason


def test_a_missing_shader_does_not_hide_the_still(tmp_path: Path) -> None:
    """The still is tried (and its error says what is missing) rather than silently left out."""
    assert no_still_reason([S], [{"shader": str(tmp_path / "gone.glsl")}]) is None
    with pytest.raises(FileNotFoundError):
        chain_work([{"shader": str(tmp_path / "gone.glsl")}])


def test_every_builtin_pause_chain_adds_something() -> None:
    """Each shipped profile's pause chain is heavier than its realtime chain wherever it has one."""
    for name in ("performance", "balanced", "quality"):
        for chains in load_profile(name).ranges:
            if chains.pause:
                assert no_still_reason(chains.realtime, chains.pause) is None, (name, chains.max_height)
