"""One encode graph (profiles/encode_graph.py) for `encode`, `upscale`, `batch` and the cluster: what it chooses,
and that planning a job (what the cluster's driver does) checks the chain without loading a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import vapoursynth as vs

from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.profiles.encode_graph import Upscaler, plan_encode
from tests.conftest import REPO, models_dir, shared_model

SD = "2x_AnimeJaNai_SD_V1beta34_Compact-fp32.onnx"

# onnxruntime made unimportable: a model session created anywhere below raises ImportError
NO_SESSIONS = """
import sys
sys.modules["onnxruntime"] = None
from kizunasr_vs.media.job import EncodeJob
from kizunasr_vs.profiles.encode_graph import Upscaler, plan_encode
plan = plan_encode(EncodeJob(None, "out.mkv", end="2"), Upscaler("quality", provider="cpu"))
print(plan.what, [step["model"] for step in plan.steps], plan.source.num_frames)
try:
    plan.build()
except Exception as exc:
    print("build needs onnxruntime:", type(exc).__name__)
"""


def test_planning_checks_the_chain_without_a_model_session(tmp_path: Path) -> None:
    shared_model(SD)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIZUNASR_MODELS_DIR": str(models_dir())}
    result = subprocess.run([sys.executable, "-c", NO_SESSIONS], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("profile quality ['animejanai-sd-v1beta34-compact', 'animejanai-hd-v3-compact'] 2")
    assert lines[1].startswith("build needs onnxruntime")  # the block works: building would have loaded one


def test_planning_names_a_missing_model_and_its_fetch_command(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(tmp_path / "empty"))
    with pytest.raises(vs.Error, match="profile 'quality'.*kizunasr models fetch animejanai-sd-v1beta34-compact"):
        plan_encode(EncodeJob(None, tmp_path / "o.mkv", end="1"), Upscaler("quality"))
    profile = tmp_path / "bad.json"
    profile.write_text(json.dumps({"name": "bad", "description": "x", "requires": {},
                                   "ranges": [{"max_height": None, "realtime": [], "pause": [],
                                               "encode": [{"shader": "no_such_shader.glsl"}]}]}))
    with pytest.raises(vs.Error, match="profile 'bad'.*no_such_shader"):
        plan_encode(EncodeJob(None, tmp_path / "o.mkv", end="1"), Upscaler(profile))


def test_upscaler_without_a_profile_is_one_model_or_shader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = models_dir()
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(tmp_path / "empty"))
    job = EncodeJob(None, tmp_path / "o.mkv", start="3", end="5")
    plan = plan_encode(job, Upscaler(profile=None))  # no model installed: the line-art shader
    assert (plan.what, plan.first, plan.source.num_frames) == ("shader kizuna_edge2x.glsl", 3, 2)
    assert plan.settings.copy_streams_from is None  # the sample has no other streams to place
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    plan = plan_encode(job, Upscaler(profile=None, model=model))
    assert (plan.what, plan.steps) == ("model m.onnx", [{"model": str(model)}])
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(shared))
    shared_model(SD)
    plan = plan_encode(job, Upscaler(profile=None))  # the sample is 360 lines: the SD model
    assert plan.what == f"model {SD}"
