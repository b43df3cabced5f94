"""When a pause still adds something: the pause chain differs from the realtime chain and does more work."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizunasr_vs.profiles import load_profile
from kizunasr_vs.profiles.still_rule import chain_work, no_still_reason, shader_work
from tests.conftest import REPO

S, M, L = ({"shader": f"kizuna_cnn_x2_{t}.glsl"} for t in "sml")
CAS = {"shader": "kizuna_cas.glsl"}


def onnx_multiply_adds(tier: str) -> int:
    """Multiply-adds per pixel of the network's convolutions, from its ONNX weights (one per weight)."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    model = onnx.load(REPO / "kizunasr_vs" / "train" / "weights" / f"kizuna_cnn_x2_{tier}.onnx")
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return sum(weights[node.input[1]].size for node in model.graph.node if node.op_type == "Conv")


def test_learned_shader_work_follows_the_networks_multiply_adds() -> None:
    """The estimate (numbers in the shader's code) against the ONNX weights the shader was compiled from."""
    for tier in "sml":
        estimate, scale = shader_work(f"kizuna_cnn_x2_{tier}.glsl")
        assert scale == 4.0  # a 2x shader: the next step runs on four times the pixels
        assert 1.0 <= estimate / onnx_multiply_adds(tier) <= 1.3, tier
    assert shader_work("kizuna_cas.glsl")[1] == 1.0


@pytest.mark.parametrize(("realtime", "pause", "reason"), [
    ([S, S], [S, S], "its pause chain is the chain already playing"),
    ([S], [], "this profile has no pause chain for this source"),
    ([L], [S], "its pause chain is no heavier than the chain already playing"),
    ([S, S], [L], "its pause chain is no heavier than the chain already playing"),  # s twice: the 2nd on 4x pixels
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
