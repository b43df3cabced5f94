"""mpv_scripts/kizunasr.lua in a real mpv (vo=gpu on Mesa's software GPUs) under Xvfb: the governor, the user's own
shaders next to ours, script-opts changes at runtime, and a profile with no range for the source.

The governor test plays a 480-line, 24 fps source with the quality profile in a 960x720 window and no worker, on
Vulkan (lavapipe) and on OpenGL (llvmpipe): neither keeps up with the quality chain, so the script steps down its
ladder until drops stop; then the playback speed is lowered (a real drop in the frames due per second) and it
steps back up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kizunasr_vs.profiles import load_profile
from kizunasr_vs.profiles.ladder import realtime_ladder
from tests.conftest import REPO
from tests.glsl_helpers import xvfb
from tests.mpv_harness import Mpv, lavapipe_vulkan, make_clip, skip_reason

USER_SHADER = str(REPO / "glsl" / "kizuna_passthrough.glsl")  # given by the "user" on the command line
NO_WORKER = "kizunasr-not-installed worker"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    if skip_reason():
        pytest.skip(f"mpv governor tests: {skip_reason()}")
    with xvfb(1024, 768) as d:
        yield d


def ladder_files(profile: str, height: int) -> list[list[str]]:
    """The profile's ladder as the files the script sets (the harness points shader_dir at glsl/)."""
    return [[str(REPO / "glsl" / step["shader"]) for step in chain]
            for chain in realtime_ladder(load_profile(profile), height)]


def drops(m: Mpv) -> int:
    return int(m.ipc.get("frame-drop-count") or 0) + int(m.ipc.get("vo-delayed-frame-count") or 0)


def shader_events(m: Mpv) -> list[dict[str, Any]]:
    return m.events("shaders")


def wait_until_steady(m: Mpv, seconds: float, timeout: float) -> tuple[int, float]:
    """Wait until, for ``seconds``, the tier has not changed, no frame was dropped or delayed, and playback kept
    pace with the clock. Returns (tier, seconds from the call until then); AssertionError after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        tier = shader_events(m)[-1]["tier"]
        d0, p0, t0 = drops(m), m.ipc.get("time-pos"), time.monotonic()
        while time.monotonic() - t0 < seconds and shader_events(m)[-1]["tier"] == tier and drops(m) == d0:
            time.sleep(0.5)
        elapsed, speed = time.monotonic() - t0, float(m.ipc.get("speed"))
        advanced = float(m.ipc.get("time-pos")) - float(p0)
        if elapsed >= seconds and shader_events(m)[-1]["tier"] == tier and drops(m) == d0 \
                and advanced >= 0.8 * elapsed * speed:
            return tier, time.monotonic() - start
    raise AssertionError(f"not steady within {timeout} s; tiers: {[e['tier'] for e in shader_events(m)]}\n"
                         f"{m.log_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("api", ["vulkan", "opengl"])
def test_governor_settles_on_a_chain_that_keeps_up_and_steps_back_up(display: str, tmp_path: Path, api: str) -> None:
    gpu_api = ("--gpu-api=opengl",) if api == "opengl" else lavapipe_vulkan()
    if gpu_api is None:
        pytest.skip("mpv finds no Vulkan lavapipe device: apt-get install mesa-vulkan-drivers")
    clip = make_clip(tmp_path / "c480.mkv", 640, 480, seconds=60, fps=24)
    ladder = ladder_files("quality", 480)
    m = Mpv(display, clip, tmp_path, {"profile": "quality", "ai_on_pause": "no", "worker_command": NO_WORKER},
            [f"--glsl-shaders-append={USER_SHADER}", "--geometry=960x720+0+0", *gpu_api])
    try:
        m.wait_event("shaders", where=lambda e: e["tier"] == 1 and e["shaders"] == ladder[0])
        tier, took = wait_until_steady(m, seconds=10, timeout=90)
        assert tier > 1, "lavapipe kept up with the full quality chain: nothing to govern"
        assert took < 60 + 10, f"drops went on for {took - 10:.0f} s"
        assert m.ipc.get("glsl-shaders") == [USER_SHADER, *ladder[tier - 1]]
        downs = [e["governor"] for e in shader_events(m) if "governor" in e]
        assert downs and all(d["reason"] in ("over budget", "dropping frames") for d in downs)
        assert all(d["budget_ms"] == pytest.approx(1000 / 24) for d in downs)
        log = m.log_text()
        assert log.count("governor: stepping down to tier") == len(downs) and "budget 41.7 ms" in log
        osd = [e["text"] for e in m.events("osd") if "did not keep up" in e["text"]]
        assert len(osd) == 1, f"the OSD should say it once: {osd}"
        mark = len(m.seen)
        m.ipc.send(["keypress", "ctrl+i"])  # input.conf: script-binding kizunasr/show-status
        status = m.wait_event("status", since=mark, where=lambda e: e["source"] == "lua")["text"]
        assert f"tier {tier}/{len(ladder)}" in status and "quality" in status

        mark = len(m.seen)
        m.ipc.set("speed", 0.02)  # a frame due every 2 s: room for a heavier tier
        up = m.wait_event("shaders", timeout=60, since=mark, where=lambda e: e["tier"] < tier)
        assert up["governor"]["reason"].startswith("headroom")
        assert m.ipc.get("glsl-shaders") == [USER_SHADER, *ladder[up["tier"] - 1]]
        time.sleep(10)
        assert shader_events(m)[-1]["tier"] <= up["tier"], "the step up did not hold"

        m.ipc.send(["keypress", "ctrl+0"])  # script-binding kizunasr/clear-shaders: ours go, the user's stays
        m.wait_property("glsl-shaders", lambda v: v == [USER_SHADER])
    finally:
        m.close()


def test_user_shaders_stay_and_script_opts_follow_at_runtime(display: str, tmp_path: Path) -> None:
    """A command-line shader survives profile switches (runtime script-opts, key, message) and clear; a profile
    without a range for the source plays no shader of ours and says why, as the Python side does."""
    clip = make_clip(tmp_path / "c480.mkv", 640, 480, seconds=4, fps=5)
    capped = tmp_path / "capped.json"
    capped.write_text('{"name": "capped", "description": "t", "requires": {}, "ranges": [{"max_height": 360, '
                      '"realtime": [{"shader": "kizuna_cas.glsl"}], "pause": [], "encode": []}]}')
    m = Mpv(display, clip, tmp_path, {"profile": "performance", "ai_on_pause": "no", "worker_command": NO_WORKER},
            [f"--glsl-shaders-append={USER_SHADER}", "--pause"])
    try:
        performance, quality = ladder_files("performance", 480)[0], ladder_files("quality", 480)[0]
        m.wait_property("glsl-shaders", lambda v: v == [USER_SHADER, *performance])
        mark = len(m.seen)
        m.ipc.send(["change-list", "script-opts", "append", "kizunasr-profile=quality"])
        m.wait_event("shaders", since=mark, where=lambda e: e["profile"] == "quality")
        assert m.ipc.get("glsl-shaders") == [USER_SHADER, *quality]
        m.ipc.send(["keypress", "ctrl+0"])
        m.wait_property("glsl-shaders", lambda v: v == [USER_SHADER])
        m.ipc.send(["keypress", "ctrl+1"])
        m.wait_property("glsl-shaders", lambda v: v == [USER_SHADER, *performance])

        m.ipc.send(["script-message", "kizunasr-profile", str(capped)])
        assert m.wait_event("shaders", where=lambda e: e["profile"] == str(capped))["shaders"] == []
        assert m.ipc.get("glsl-shaders") == [USER_SHADER]
        message = f'{capped}: no range covers a source of height 480; add a last range with "max_height": null'
        assert message in m.log_text()
        assert any(message in e["text"] for e in m.events("osd"))
    finally:
        m.close()
