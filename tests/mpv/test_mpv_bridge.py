"""mpv_scripts/kizunasr.lua + `kizunasr worker` in a real mpv (vo=gpu, software GL) under Xvfb.

The worker's status arrives as ``script-message kizunasr-event <json>`` on the test's own IPC
connection. Pause chains: the shipped `performance` 480p pause chain takes seconds per still on
lavapipe (2 cores), so the pause tests use small test profiles (kizuna_deband + kizuna_cas over a kizuna_cas
realtime chain; SuperUltraCompact).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kizunasr_vs.mpv.install import install
from kizunasr_vs.mpv.pause_job import Rect, StillRenderer, to_bgra
from kizunasr_vs.profiles import load_profile
from tests.conftest import REPO, models_dir, shared_model
from tests.glsl_helpers import xvfb
from tests.mpv_harness import Mpv, bgra_to_rgb, make_clip, skip_reason, write_profile

SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
ODD_NAME = "clip with spaces 'single' \"double\" 日本語 ü.mkv"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    odd = d / "dir with space"
    odd.mkdir()
    return {"480": make_clip(d / "c480.mkv", 640, 480), "1080": make_clip(d / "c1080.mkv", 1920, 1080, 3, 2),
            "odd": make_clip(odd / ODD_NAME, 640, 480)}


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    if skip_reason():
        pytest.skip(f"mpv bridge tests: {skip_reason()}")
    with xvfb(800, 600) as d:
        yield d


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, str]:
    return {"cas": str(write_profile(tmp_path / "kz_cas.json",  # a pause chain heavier than the realtime one
                                     [{"shader": "kizuna_deband.glsl"}, {"shader": "kizuna_cas.glsl"}],
                                     [{"shader": "kizuna_cas.glsl"}])),
            "suc": str(write_profile(tmp_path / "kz_suc.json", [{"model": "animejanai-hd-v3-superultracompact"}]))}


@pytest.fixture
def model_env() -> dict[str, str]:
    shared_model(SUC)  # skips the test without it
    return {"KIZUNASR_MODELS_DIR": str(models_dir())}


# A window where a 480-line source is upscaled by more than the learned shaders' 1.2x //!WHEN threshold, so they
# run (in the harness's 640x360 window mpv scales 480 lines down and skips them), and no OSD text in the picture.
SHADERS_RUN = ["--geometry=800x600+0+0", "--osd-level=0"]


def start(display: str, media: Path, workdir: Path, profile: str, ai: bool = True, paused: bool = False,
          env: dict[str, str] | None = None, extra: tuple[str, ...] = ()) -> Mpv:
    opts = {"profile": profile, "ai_on_pause": "yes" if ai else "no"}
    return Mpv(display, media, workdir, opts, [*(["--pause"] if paused else []), *extra], env)


def overlay_matches(m: Mpv, ev: dict, name: str) -> float:
    """Mean |window screenshot - worker BGRA| over the centre of the video rect (OSD text stays out)."""
    x, y, w, h = ev["rect"]
    expected = bgra_to_rgb(Path(ev["file"]), w, h).astype(float)
    shot = m.screenshot(name)[y:y + h, x:x + w].astype(float)
    cy, cx = slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4)
    return float(np.abs(shot[cy, cx] - expected[cy, cx]).mean())


def settled_screenshot(m: Mpv, name: str, timeout: float = 10.0) -> np.ndarray:
    """A window screenshot once mpv has redrawn after a change: two shots half a second apart agree."""
    time.sleep(0.5)
    shot = m.screenshot(name).astype(float)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        again = m.screenshot(name).astype(float)
        if np.array_equal(again, shot):
            return shot
        shot = again
    return shot


def realtime_shaders(steps: list[dict]) -> list[str]:
    """The chain's files in the repository's glsl/ (the harness points the script's shader_dir there)."""
    return [str(REPO / "glsl" / str(s["shader"])) for s in steps if "shader" in s]


def test_still_fits_rect_as_bgra() -> None:
    """The pure part: RGB in, the chain, Spline36 to the rect, opaque BGRA out (no mpv)."""
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 30
    assert Rect.from_osd({"w": 640, "h": 360, "ml": 80, "mr": 80, "mt": 0, "mb": 0}) == Rect(80, 0, 480, 360)
    assert Rect.from_osd({}) is None
    planes = StillRenderer().render(rgb, [{"shader": "kizuna_cas.glsl"}], Rect(0, 0, 32, 24))
    out = np.frombuffer(to_bgra(planes), np.uint8)
    px = out.reshape(24, 32, 4)[12, 16]
    assert abs(int(px[2]) - 200) <= 2 and abs(int(px[0]) - 30) <= 2 and px[3] == 255  # B, G, R, A


@pytest.mark.slow
def test_realtime_shaders_480p(display: str, media: dict[str, Path], tmp_path: Path) -> None:
    m = start(display, media["480"], tmp_path, "performance", ai=False, paused=True, extra=tuple(SHADERS_RUN))
    try:
        expected = realtime_shaders(load_profile("performance").for_height(480).realtime)
        m.wait_event("shaders", where=lambda e: e["shaders"] == expected)
        assert m.ipc.get("glsl-shaders") == expected
        shaded = settled_screenshot(m, "shaded")
        mark = len(m.seen)
        m.ipc.send(["script-message", "kizunasr-clear"])
        m.wait_event("shaders", where=lambda e: e["shaders"] == [], since=mark)
        assert m.ipc.get("glsl-shaders") == []
        plain = settled_screenshot(m, "plain")
        # one message, one clear: the Lua key bindings must not echo their messages (that looped for ever)
        assert m.log_text().count('args="kizunasr-clear"') == 1
        assert len([e for e in m.seen[mark:] if e["event"] == "shaders"]) == 1
        assert np.abs(shaded - plain).mean() > 0.3, "the realtime shaders changed nothing in the window"
        mark = len(m.seen)
        m.ipc.send(["script-message", "kizunasr-profile", "performance"])
        m.wait_event("shaders", where=lambda e: e["shaders"] == expected, since=mark)
    finally:
        m.close()


def test_realtime_shaders_1080p(display: str, media: dict[str, Path], tmp_path: Path) -> None:
    m = start(display, media["1080"], tmp_path, "performance", ai=False, paused=True)
    try:
        expected = realtime_shaders(load_profile("performance").for_height(1080).realtime)
        assert expected and expected != realtime_shaders(load_profile("performance").for_height(480).realtime)
        m.wait_event("shaders", where=lambda e: e["height"] == 1080)
        assert m.ipc.get("glsl-shaders") == expected
        m.wait_event("hello", timeout=30)  # the script sets the chain at once; the worker answers the keys below
        mark = len(m.seen)
        m.ipc.send(["keypress", "ctrl+3"])  # the script's default binding -> script-message kizunasr-profile quality
        m.wait_event("shaders", where=lambda e: e["profile"] == "quality", since=mark)
        assert m.ipc.get("glsl-shaders") == realtime_shaders(load_profile("quality").for_height(1080).realtime)
        m.ipc.send(["keypress", "ctrl+i"])
        assert "quality" in m.wait_event("status", since=mark)["text"]
    finally:
        m.close()


def test_pause_overlay_then_resume(display: str, media: dict[str, Path], tmp_path: Path,
                                   profiles: dict[str, str]) -> None:
    m = start(display, media["480"], tmp_path, profiles["cas"])
    try:
        m.wait_property("time-pos", lambda t: t is not None and t > 0.4)
        m.ipc.set("pause", True)
        ev = m.wait_event("overlay", timeout=25)
        dims = m.ipc.get("osd-dimensions")
        assert ev["rect"] == [dims["ml"], dims["mt"], dims["w"] - dims["ml"] - dims["mr"],
                              dims["h"] - dims["mt"] - dims["mb"]]
        assert dims["ml"] > 0, "the 4:3 clip in a 16:9 window should be pillarboxed"
        diff = overlay_matches(m, ev, "overlay")
        assert diff < 4, f"window differs from the worker's overlay by {diff:.2f} on average"
        mark = len(m.seen)
        m.ipc.set("pause", False)
        m.wait_event("overlay-removed", where=lambda e: e["reason"] == "resume", since=mark)
    finally:
        m.close()


@pytest.mark.slow
def test_model_still_latency(display: str, media: dict[str, Path], tmp_path: Path, profiles: dict[str, str],
                             model_env: dict[str, str]) -> None:
    m = start(display, media["480"], tmp_path, profiles["suc"], env=model_env)
    try:
        rows = []
        for i in range(2):
            m.wait_property("pause", lambda p: p is False)
            time.sleep(0.5)
            mark = len(m.seen)
            m.ipc.set("pause", True)
            ev = m.wait_event("overlay", timeout=25, since=mark)
            assert ev["chain"] == "animejanai-hd-v3-superultracompact" and ev["source"] == [640, 480]
            if i == 0:
                diff = overlay_matches(m, ev, "model")
                assert diff < 4, f"window differs from the worker's overlay by {diff:.2f} on average"
            rows.append(ev["timings"])
            m.ipc.set("pause", False)
        for label, t in zip(("first pause (model load)", "second pause"), rows, strict=True):
            print(f"\nSuperUltraCompact 640x480 -> 480x360 on CPU, {label}: " +
                  ", ".join(f"{k} {v:.0f} ms" for k, v in t.items()))
    finally:
        m.close()


def test_seek_during_job_never_shows_stale(display: str, media: dict[str, Path], tmp_path: Path,
                                           profiles: dict[str, str], model_env: dict[str, str]) -> None:
    m = start(display, media["480"], tmp_path, profiles["suc"], paused=True, env=model_env)
    try:
        first = m.wait_event("job-start", timeout=20)
        m.ipc.send(["seek", 5, "absolute", "exact"])
        ev = m.wait_event("overlay", timeout=25)
        assert ev["gen"] > first["gen"], "the result of the job running during the seek was shown"
        assert abs(ev["time_pos"] - 5) < 0.3
        m.wait_event("dropped", where=lambda e: e["gen"] == first["gen"])
        assert all(e["gen"] != first["gen"] for e in m.events("overlay"))
    finally:
        m.close()


@pytest.mark.slow
def test_killed_worker_restarts_at_next_pause(display: str, media: dict[str, Path], tmp_path: Path,
                                              profiles: dict[str, str], model_env: dict[str, str]) -> None:
    m = start(display, media["480"], tmp_path, profiles["suc"], paused=True, env=model_env)
    try:
        job = m.wait_event("job-start", timeout=20)
        os.kill(job["pid"], signal.SIGKILL)
        m.ipc.set("pause", False)
        t0 = m.wait_property("time-pos", lambda t: t is not None)
        m.wait_property("time-pos", lambda t: t is not None and t > t0 + 0.6, timeout=10)
        deadline = time.monotonic() + 10
        while "worker stopped" not in m.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "worker stopped" in m.log_text(), "no OSD warning after the worker died"
        mark = len(m.seen)
        m.ipc.set("pause", True)
        ev = m.wait_event("overlay", timeout=25, since=mark)
        assert ev["pid"] != job["pid"]
    finally:
        m.close()


def test_odd_file_name(display: str, media: dict[str, Path], tmp_path: Path, profiles: dict[str, str]) -> None:
    m = start(display, media["odd"], tmp_path, profiles["cas"], paused=True)
    try:
        m.wait_event("shaders", where=lambda e: len(e["shaders"]) == 1)
        m.wait_event("overlay", timeout=25)
        assert m.ipc.get("filename") == ODD_NAME
    finally:
        m.close()


def _mpv_version() -> tuple[int, int]:
    out = subprocess.run(["mpv", "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    assert match, out
    return int(match[1]), int(match[2])


@pytest.mark.slow
def test_installed_script_sets_the_chain_with_no_worker_and_a_clean_log(display: str, media: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    """`install-mpv`'s layout, mpv's own config dir, no worker on PATH: the script sets the performance chain for
    480 lines from the installed profile and shaders (on mpv < 0.36 the copies without //!PARAM, so the log has no
    "Unrecognized command"), the shaders change the picture, and the OSD says how to get the worker."""
    config = tmp_path / "mpv"
    install(config, command="kizunasr-not-installed worker")
    ranges = json.loads((REPO / "profiles" / "performance.json").read_text())["ranges"]
    names = [step["shader"] for step in ranges[0]["realtime"]]
    assert ranges[0]["max_height"] >= 480 and names
    folder = config / "shaders" / "kizunasr"
    old = _mpv_version() < (0, 36)
    # the copies without //!PARAM exist for shaders that have PARAM blocks; the others are used as they are
    expected = [str(folder / "mpv-0.35" / n if old and "//!PARAM" in (REPO / "glsl" / n).read_text() else folder / n)
                for n in names]
    assert all(Path(p).is_file() for p in expected)
    m = Mpv(display, media["480"], tmp_path, {"profile": "auto", "worker_command": "kizunasr-not-installed worker"},
            ["--pause", *SHADERS_RUN], config_dir=config)
    try:
        m.wait_property("glsl-shaders", lambda v: v == expected)
        shaded = settled_screenshot(m, "shaded")
        log = m.log_text()
        assert "worker 'kizunasr-not-installed' not found" in log
        assert "set worker_command in ~~/script-opts/kizunasr.conf" in log and "or put kizunasr on PATH" in log
        assert "Unrecognized command" not in log and "Lua error" not in log
        m.ipc.set("glsl-shaders", [str(folder / n) for n in names])  # the originals: the same picture
        np.testing.assert_array_equal(settled_screenshot(m, "originals"), shaded)
        with_params = any("//!PARAM" in (REPO / "glsl" / n).read_text() for n in names)
        assert ("Unrecognized command 'PARAM" in m.log_text()) == (old and with_params)  # what the copies avoid
        m.ipc.send(["script-message", "kizunasr-clear"])
        m.wait_property("glsl-shaders", lambda v: v == [])
        plain = settled_screenshot(m, "plain")
        assert np.abs(shaded - plain).mean() > 0.1, "the realtime shaders changed nothing in the window"
    finally:
        m.close()


def test_missing_model_is_one_osd_line_and_no_traceback(display: str, media: dict[str, Path],
                                                         tmp_path: Path) -> None:
    """A pause chain whose model is not installed: "computing..." while the still is tried, then one OSD line
    saying how to fetch it, one short line in the worker's log, no traceback (warm-up included)."""
    profile = write_profile(tmp_path / "kz_missing.json", [{"model": "animejanai-hd-v3-compact"}])
    m = start(display, media["480"], tmp_path, str(profile), paused=True,
              env={"KIZUNASR_MODELS_DIR": str(tmp_path / "no-models")})
    try:
        ev = m.wait_event("error", timeout=40)
        assert "kizunasr models fetch animejanai-hd-v3-compact" in ev["message"]
        time.sleep(1)
        osd = [e["text"] for e in m.events("osd")]
        assert osd[0] == "KizunaSR AI still: computing... (animejanai-hd-v3-compact)"
        assert osd[1].startswith("KizunaSR AI still failed: model 'animejanai-hd-v3-compact' is not installed")
        assert len(osd) == 2 and "\n" not in osd[1]
        worker_log = m.stderr.read_text(errors="replace")
        assert "Traceback" not in worker_log
        assert worker_log.count("AI still not made: model 'animejanai-hd-v3-compact' is not installed") == 1
    finally:
        m.close()
