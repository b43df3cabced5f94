"""Profiles: schema validation with precise errors, user overrides, height ranges and auto selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizunasr_vs.core.metrics import psnr
from kizunasr_vs.profiles import ProfileError, available_profiles, load_profile
from kizunasr_vs.profiles.loader import _validator, load_profile_file
from kizunasr_vs.profiles.select import Machine, auto_profile

CPU_ONLY = Machine(gpu=False, providers=["CPUExecutionProvider"])
BIG_GPU = Machine(gpu=True, vram_gb=24.0, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
SMALL_GPU = Machine(gpu=True, vram_gb=3.0, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "kizunasr" / "profiles"
    folder.mkdir(parents=True)
    return folder


def test_builtin_profiles_are_valid_and_cover_every_height() -> None:
    for name in ("performance", "balanced", "quality"):
        profile = load_profile(name)
        assert not list(_validator().iter_errors(json.loads(profile.path.read_text())))
        for height in (360, 480, 576, 720, 1080, 1440, 2160):
            profile.for_height(height)
        assert profile.for_height(2160).realtime == [], "a 4K source already fills the display"


def test_performance_needs_no_model_and_no_gpu() -> None:
    profile = load_profile("performance")
    assert profile.requires.get("gpu") is False
    for chains in profile.ranges:
        for step in chains.realtime + chains.pause + chains.encode:
            assert "model" not in step and "compiled_model" not in step
        assert chains.encode == chains.realtime, "a playback screenshot and an encoded frame must agree"


def test_quality_runs_sd_model_then_hd_model_for_sd_sources() -> None:
    encode = load_profile("quality").for_height(480).encode
    assert [s["model"] for s in encode] == ["animejanai-sd-v1beta34-compact", "animejanai-hd-v3-compact"]
    assert [s["model"] for s in load_profile("quality").for_height(1080).encode] == ["animejanai-hd-v3-compact"]


@pytest.mark.parametrize("machine,preference,expected", [
    (CPU_ONLY, "quality", "performance"),
    (BIG_GPU, "quality", "quality"),
    (SMALL_GPU, "quality", "balanced"),
    (BIG_GPU, "balanced", "balanced"),
    (BIG_GPU, "performance", "performance"),
])
def test_auto_picks_by_hardware_and_preference(machine: Machine, preference: str, expected: str) -> None:
    assert auto_profile(preference, machine).name == expected


def test_broken_json_names_file_and_line(user_config: Path) -> None:
    bad = user_config / "mine.json"
    bad.write_text('{"name": "mine",\n  "ranges": [,]}')
    with pytest.raises(ProfileError, match=r"mine\.json: broken JSON at line 2"):
        load_profile("mine")


def test_schema_fault_names_json_path_and_expectation(user_config: Path) -> None:
    data = json.loads(load_profile("performance").path.read_text())
    data["name"] = "mine"
    data["ranges"][1]["encode"][0] = {"shader": "kizuna_cas.glsl", "params": {"strength": "high"}}
    (user_config / "mine.json").write_text(json.dumps(data))
    with pytest.raises(ProfileError) as info:
        load_profile("mine")
    message = str(info.value)
    assert "mine.json" in message
    assert "$.ranges[1].encode[0].params.strength" in message
    assert "'high' is not of type 'number'" in message


def test_ranges_must_ascend(tmp_path: Path) -> None:
    data = json.loads(load_profile("performance").path.read_text())
    data["ranges"][0], data["ranges"][1] = data["ranges"][1], data["ranges"][0]
    path = tmp_path / "swapped.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=r"\$\.ranges\[1\]\.max_height: 576 is not above"):
        load_profile_file(path)


def test_user_profile_overrides_builtin_and_adds_new(user_config: Path) -> None:
    data = json.loads(load_profile("performance").path.read_text())
    data["description"] = "my own"
    (user_config / "performance.json").write_text(json.dumps(data))
    data["name"] = "extra"
    (user_config / "extra.json").write_text(json.dumps(data))
    assert available_profiles()["performance"] == user_config / "performance.json"
    assert load_profile("performance").description == "my own"
    assert load_profile("extra").name == "extra"


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="unknown profile 'nope'.*balanced, performance, quality"):
        load_profile("nope")


def test_consecutive_shader_steps_make_one_stage() -> None:
    from kizunasr_vs.profiles.chain import build_pipeline

    steps = [{"shader": "kizuna_cas.glsl", "params": {"cas_strength": 0.5}}, {"shader": "kizuna_deband.glsl"},
             {"shader": "kizuna_edge2x.glsl"}, {"resize": {"scale": 0.5}}, {"shader": "kizuna_cas.glsl"}]
    assert build_pipeline(steps).names == [  # type: ignore[arg-type]
        "shader kizuna_cas.glsl", "shader kizuna_deband.glsl + kizuna_edge2x.glsl", "resize x0.5 spline36",
        "shader kizuna_cas.glsl"]


def test_grouped_shader_stage_matches_the_steps_run_one_by_one() -> None:
    """The SD encode chain of the performance profile as one stage (two shared renders) against one render
    per shader, on a frame of the built-in sample: the same image but for rounding between shaders."""
    import numpy as np
    import vapoursynth as vs

    from kizunasr_vs.core.resources import shader_path
    from kizunasr_vs.core.sample import draw_frame
    from kizunasr_vs.profiles.chain import build_pipeline
    from kizunasr_vs.render.placebo import shader
    from tests.vsarrays import clip_from_planes, planes_of

    steps = load_profile("performance").ranges[0].encode
    rgb = np.round(draw_frame(0, 64, 48).astype(np.float64) * 255)
    clip = clip_from_planes(list(rgb), vs.RGB24, _Matrix=0, _Range=1)
    grouped = build_pipeline(steps)
    assert len(grouped.names) == 1
    got = np.stack(planes_of(grouped.apply(clip))).astype(np.float64)
    one_by_one = clip
    for step in steps:
        one_by_one = shader(one_by_one, str(shader_path(step["shader"])), merge=False)
    want = np.stack(planes_of(one_by_one)).astype(np.float64)
    assert got.shape == want.shape == (3, 48 * 4, 64 * 4)  # edge2x twice
    db = psnr(got, want, peak=255.0)
    assert db >= 50, f"{db:.1f} dB"  # 54.1 measured


def test_shader_chains_run_in_list_order_in_mpv_too() -> None:
    """mpv runs a realtime chain in one render, hooks stage by stage (LUMA before MAIN): each shader must hook
    no earlier stage than the ones before it, or playback would run them in another order than an encode."""
    from kizunasr_vs.core.resources import shader_path
    from kizunasr_vs.render.merge import shader_facts
    from kizunasr_vs.render.source import load_shader

    for name in available_profiles():
        profile = load_profile(name)
        for chains in profile.ranges:
            for chain in (chains.realtime, chains.pause, chains.encode):
                reached = 0
                for step in chain:
                    if "shader" not in step:
                        continue
                    steps = shader_facts(load_shader(shader_path(step["shader"])).text).steps
                    assert steps is not None and steps[0] >= reached, (name, chains.max_height, step)
                    reached = steps[1]
    performance = load_profile("performance")
    assert all(r.encode == r.realtime for r in performance.ranges)


def test_deeply_nested_profile_is_a_profile_error(tmp_path: Path) -> None:
    """Nesting that would exhaust the stack (RecursionError) or that no profile needs is one clear error."""
    for depth in (100_000, 40):
        path = tmp_path / f"deep{depth}.json"
        path.write_text('{"name": ' + "[" * depth + "]" * depth + "}")
        with pytest.raises(ProfileError) as info:
            load_profile_file(path)
        assert str(info.value).startswith(f"{path}: nested deeper than") and "\n" not in str(info.value)


def test_profile_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    data = json.loads(load_profile("performance").path.read_text())
    data["description"] = "réglages de Zoé"
    path = tmp_path / "latin.json"
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ProfileError, match=rf"^{path}: not UTF-8 text \(byte 0xe9 at line 1\); save it as UTF-8$"):
        load_profile_file(path)


def test_profile_that_is_a_folder_or_huge_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="is not a file"):
        load_profile_file(tmp_path)
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (2 << 20) + "{}")
    with pytest.raises(ProfileError, match="larger than 1024 KiB"):
        load_profile_file(huge)


@pytest.mark.parametrize("command", ["encode", "upscale", "batch"])
def test_cli_refuses_a_broken_profile_before_opening_the_source(tmp_path: Path, command: str) -> None:
    """Exit 2 and one line naming the file; the input is not a video, so an error about the profile (not about
    the input) shows the profile was checked before the source was opened."""
    import subprocess
    import sys

    from tests.conftest import REPO

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    source = tmp_path / "in.mkv"
    source.write_text("not a video\n")
    (tmp_path / "out").mkdir()
    out = ["--out-dir", str(tmp_path / "out")] if command == "batch" else ["-o", str(tmp_path / "out" / "o.mkv")]
    result = subprocess.run([sys.executable, "-m", "kizunasr_vs", command, str(source), *out, "--profile", str(deep)],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kizunasr {command}: {deep}: nested deeper than"), result.stderr
    assert not any((tmp_path / "out").iterdir())
