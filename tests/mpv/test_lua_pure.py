"""The pure functions of mpv_scripts/kizunasr.lua, run by mpv's own Lua (tests/mpv/lua_pure.lua loads the script
in its library mode; no window, no video): the realtime ladder against the Python loader's for every height, the
merge with the user's own shaders, the frame budget, the platform helpers and the governor's decisions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kizunasr_vs.profiles import ProfileError, load_profile
from kizunasr_vs.profiles.ladder import realtime_ladder
from tests.conftest import REPO

LUA = REPO / "mpv_scripts" / "kizunasr.lua"
RUNNER = Path(__file__).with_name("lua_pure.lua")
HEIGHTS = (1, 240, 360, 480, 576, 577, 720, 721, 1080, 1081, 1440, 2160, 4320)

pytestmark = pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv not installed")


def run_lua(tmp_path: Path, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each call's {"value": ...} or {"error": "..."} from the script's functions inside mpv."""
    job, out = tmp_path / "job.json", tmp_path / "out.json"
    job.write_text(json.dumps({"script": str(LUA), "calls": calls}))
    proc = subprocess.run(["mpv", "--no-config", "--idle=yes", "--vo=null", "--ao=null", "--force-window=no",
                           "--msg-level=all=warn", f"--script={RUNNER}", f"--script-opts-append=kztest-job={job}",
                           f"--script-opts-append=kztest-out={out}"], capture_output=True, text=True, timeout=60)
    assert out.is_file(), f"the Lua runner wrote nothing:\n{proc.stdout}\n{proc.stderr}"
    results: list[dict[str, Any]] = json.loads(out.read_text())
    assert len(results) == len(calls)
    return results


def as_list(value: Any) -> list[Any]:
    """An empty Lua table comes back as {} or []."""
    return [] if value == {} else value


def names(chain: list[dict[str, Any]]) -> list[str]:
    return [step["shader"] for step in chain if "shader" in step]


def steps(*shaders: str) -> list[dict[str, str]]:
    return [{"shader": s} for s in shaders]


def profile_json(name: str, ranges: list[dict[str, Any]], preference: str | None = None) -> str:
    data: dict[str, Any] = {"name": name, "description": "test", "requires": {"gpu": False}, "ranges": ranges}
    if preference:
        data["preference"] = preference
    return json.dumps(data)


def rng(max_height: int | None, realtime: list[dict[str, str]], fallback: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"max_height": max_height, "realtime": realtime, "pause": [], "encode": []}
    if fallback is not None:
        out["fallback"] = fallback
    return out


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user profiles folder of both sides, with profiles the built-ins do not cover."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "config" / "kizunasr" / "profiles"
    folder.mkdir(parents=True)
    s, m = "kizuna_cnn_x2_s.glsl", "kizuna_cnn_x2_m.glsl"
    (folder / "capped.json").write_text(profile_json("capped", [rng(360, steps(m, s)), rng(720, steps(s))]))
    (folder / "derived.json").write_text(profile_json("derived", [rng(576, steps("kizuna_cnn_x2_l.glsl")),
                                                                  rng(None, steps(m))], "quality"))
    (folder / "plain.json").write_text(profile_json("plain", [rng(None, steps("kizuna_cas.glsl"))]))
    cas = "kizuna_cas.glsl"
    (folder / "own.json").write_text(profile_json("own", [rng(1080, steps(m, cas), [steps(s, cas), steps(m, cas)]),
                                                          rng(None, [])], "quality"))
    # overrides the built-in balanced for both sides; the default ladder still borrows the built-in performance
    (folder / "balanced.json").write_text(profile_json("balanced", [rng(None, steps("kizuna_edge2x.glsl"))],
                                                       "balanced"))
    return folder


def test_lua_and_python_choose_the_same_ladder_for_every_height(tmp_path: Path, user_dir: Path) -> None:
    """Every built-in and user profile, every height: the same ladder of shader names, or, where no range covers
    the height, the same message (the Lua then plays no shader and says so)."""
    profiles = ["performance", "balanced", "quality", "capped", "derived", "plain", "own"]
    cases = [(p, h) for p in profiles for h in HEIGHTS]
    calls = [{"fn": "load_ladder", "args": [p, h, str(user_dir), str(REPO / "profiles")]} for p, h in cases]
    errors = 0
    for (name, height), got in zip(cases, run_lua(tmp_path, calls), strict=True):
        try:
            expected: Any = {"value": [names(chain) for chain in realtime_ladder(load_profile(name), height)]}
        except ProfileError as exc:
            expected, errors = {"error": str(exc)}, errors + 1
        if "value" in got:
            got = {"value": [as_list(chain) for chain in got["value"]]}
        assert got == expected, f"profile {name}, height {height}"
    assert errors == sum(h > 720 for h in HEIGHTS), "only capped lacks ranges"


def test_builtin_ladders_step_down_to_mpvs_own_scaler() -> None:
    """The shipped fallbacks, heaviest first, end with no shader; 4K sources have nothing to step through."""
    s, m, lg, vl, ul = (f"kizuna_cnn_x2_{t}.glsl" for t in ("s", "m", "l", "vl", "ul"))
    ladder = [names(chain) for chain in realtime_ladder(load_profile("quality"), 480)]
    assert ladder == [[ul, vl], [vl, s], [lg, s], [m, s], [s, s], [s], []]
    assert [names(chain) for chain in realtime_ladder(load_profile("quality"), 1080)] == [[ul], [vl], [lg], [m],
                                                                                         [s], []]
    assert [names(chain) for chain in realtime_ladder(load_profile("balanced"), 1080)] == [[vl], [lg], [m], [s], []]
    assert [names(chain) for chain in realtime_ladder(load_profile("performance"), 1080)] == [[s], []]
    assert realtime_ladder(load_profile("balanced"), 2160) == [[]]


def test_fallback_without_realtime_is_refused(user_dir: Path) -> None:
    (user_dir / "odd.json").write_text(profile_json("odd", [rng(None, [], [steps("kizuna_cas.glsl")])]))
    with pytest.raises(ProfileError, match=r"odd\.json: at \$\.ranges\[0\]\.fallback: the range has no realtime"):
        load_profile("odd")
    (user_dir / "odd.json").write_text(profile_json("odd", [rng(None, steps("kizuna_cas.glsl"), [[]])]))
    with pytest.raises(ProfileError, match=r"at \$\.ranges\[0\]\.fallback\[0\]: \[\] should be non-empty"):
        load_profile("odd")


def test_merge_keeps_the_users_shaders_in_place(tmp_path: Path) -> None:
    calls = [{"fn": "merge_shaders", "args": [["u1", "k1", "u2", "k2"], ["k1", "k2"], ["k3"]]},
             {"fn": "merge_shaders", "args": [["k1", "u1", "k1"], ["k1"], ["k2", "k3"]]},  # the user's own k1 stays
             {"fn": "merge_shaders", "args": [["u1"], ["gone"], []]},  # the user cleared ours meanwhile
             {"fn": "merge_shaders", "args": [["u1", "k1"], ["k1"], []]}]
    got = [as_list(r["value"]) for r in run_lua(tmp_path, calls)]
    assert got == [["u1", "u2", "k3"], ["k1", "u1", "k2", "k3"], ["u1"], ["u1"]]


def test_budget_platform_and_paths(tmp_path: Path, user_dir: Path) -> None:
    from kizunasr_vs.core.paths import user_profiles_dir

    calls = [{"fn": "budget_ms", "args": [24, 1, 0]}, {"fn": "budget_ms", "args": [24, 0.5, 0]},
             {"fn": "budget_ms", "args": [60, 1, 30]}, {"fn": "budget_ms", "args": [0, 1, 60]},
             {"fn": "platform", "args": ["", "\\\n;\n?\n!\n-\n"]}, {"fn": "platform", "args": ["", "/\n;\n?\n!\n-\n"]},
             {"fn": "platform", "args": ["darwin", "/\n"]},
             {"fn": "ipc_path", "args": [True, "", 42]}, {"fn": "ipc_path", "args": [False, "/run/user/7", 42]},
             {"fn": "path_dirs", "args": ["C:\\mpv;C:\\Program Files\\kizunasr", True]},
             {"fn": "path_dirs", "args": ["/usr/bin:/opt/kz bin", False]},
             {"fn": "program_candidates", "args": ["kizunasr", "C:\\bin;D:\\tools", True]},
             {"fn": "program_candidates", "args": ["C:\\kz\\kizunasr.exe", "C:\\bin", True]},
             {"fn": "user_profiles_dir", "args": ["linux"],
              "env": {"HOME": "/home/u", "XDG_CONFIG_HOME": str(tmp_path / "config")}},
             {"fn": "user_profiles_dir", "args": ["linux"], "env": {"HOME": "/home/u"}},
             {"fn": "user_profiles_dir", "args": ["windows"], "env": {"LOCALAPPDATA": "C:\\Users\\u\\AppData\\Local"}},
             {"fn": "user_profiles_dir", "args": ["darwin"], "env": {"HOME": "/Users/u"}}]
    got = [r.get("value", r.get("error")) for r in run_lua(tmp_path, calls)]
    assert got[0] == pytest.approx(1000 / 24) and got[1] == pytest.approx(2000 / 24)
    assert got[2] == pytest.approx(1000 / 30) and got[3] == "nil"
    assert got[4:7] == ["windows", "unix", "darwin"]
    assert got[7:9] == ["\\\\.\\pipe\\kizunasr-mpv-42", "/run/user/7/kizunasr-mpv-42.sock"]
    assert got[9:11] == [["C:\\mpv", "C:\\Program Files\\kizunasr"], ["/usr/bin", "/opt/kz bin"]]
    assert got[11] == ["C:\\bin/kizunasr", "C:\\bin/kizunasr.exe", "D:\\tools/kizunasr", "D:\\tools/kizunasr.exe"]
    assert got[12] == ["C:\\kz\\kizunasr.exe"]
    assert got[13] == str(user_profiles_dir()) == str(user_dir)  # the Python side, same environment
    assert got[14:] == ["/home/u/.config/kizunasr/profiles", "C:\\Users\\u\\AppData\\Local/kizunasr/kizunasr/profiles",
                        "/Users/u/Library/Application Support/kizunasr/profiles"]


# ---- the governor -------------------------------------------------------------------------------------------

BUDGET = 1000 / 24


def timeline(seconds: float, dt: float, budget: float = BUDGET, load: float = 1.0, start: float = 0.0
             ) -> list[dict[str, float]]:
    return [{"now": start + dt * (i + 1), "budget": budget, "load": load} for i in range(int(seconds / dt))]


def tiers(tmp_path: Path, costs: list[float], points: list[dict[str, float]], timed: bool = True,
          dt: float = 2.0) -> list[int]:
    [result] = run_lua(tmp_path, [{"fn": "governor_run", "costs": costs, "timeline": points, "timed": timed,
                                   "dt": dt}])
    return [step["tier"] for step in result["value"]]


def changes(path: list[int]) -> int:
    """Tier changes along the path, from tier 1 (where the governor starts)."""
    full = [1, *path]
    return sum(1 for a, b in zip(full, full[1:], strict=False) if a != b)


def test_governor_steps_down_to_what_fits_then_up_when_the_budget_grows(tmp_path: Path) -> None:
    """Quality-like ladder on a slow GPU: 1000 / 500 / 200 / 60 / 12 ms against 41.7 ms. It goes down one tier per
    window to the last (nothing else fits) and stays; at a tenth of the speed (417 ms) it climbs back to the
    200 ms tier (the 500 ms one would not fit: 0.7 x 417 = 292) and stays there."""
    costs = [1000, 500, 200, 60, 12]
    fast = timeline(120, 2.0)
    slow = timeline(120, 2.0, budget=10 * BUDGET, start=120)
    path = tiers(tmp_path, costs, fast + slow)
    assert path[:5] == [2, 3, 4, 5, 5]
    assert set(path[4:len(fast)]) == {5}, "it left the only tier that keeps up"
    assert path[-1] == 3 and set(path[len(fast) + 10:]) == {3}
    assert changes(path) == 4 + 2, f"flapping: {path}"
    first_up = len(fast) + path[len(fast):].index(4)
    assert path[first_up:first_up + 3] == [4, 4, 4], "a step up follows a change no sooner than the hold time (6 s)"


def test_governor_hysteresis_keeps_a_tier_near_the_budget(tmp_path: Path) -> None:
    """Tier 2 at 0.8 of the budget stays (below 0.85, so no step down; the tier above, 1.2, would not fit).
    When the load halves, tier 1 (0.6) fits under 0.7 and it steps up, once."""
    costs = [1.2 * BUDGET, 0.8 * BUDGET, 0.1 * BUDGET]
    path = tiers(tmp_path, costs, timeline(100, 1.0) + timeline(60, 1.0, load=0.5, start=100))
    assert path[0] == 2 and set(path[:100]) == {2}
    assert path[-1] == 1 and changes(path) == 2


def test_governor_without_timings_probes_up_with_growing_waits(tmp_path: Path) -> None:
    """A VO without timers: only drops are seen. Tier 1 drops frames, tier 2 does not. It steps down, tries tier 1
    again after the hold time, and each failed try doubles the wait before the next."""
    path = tiers(tmp_path, [2 * BUDGET, 0.5 * BUDGET], timeline(600, 1.0), timed=False, dt=1.0)
    ups = [i for i, (a, b) in enumerate(zip(path, path[1:], strict=False)) if b < a]
    assert path[0] == 2 and len(ups) >= 3
    gaps = [b - a for a, b in zip(ups, ups[1:], strict=False)]
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    assert gaps[-1] >= 4 * gaps[0]


def test_window_counts_frames_fallen_behind_the_clock(tmp_path: Path) -> None:
    """Without audio mpv plays slower instead of dropping: 2 s of clock, 1 s of video at 24 fps is 24 frames lost,
    on top of the one mpv counted. The frame time is the median of the fresh timings."""
    window = [{"t": 10.0, "drops": 5, "pos": 3.0, "ms": 30.0}, {"t": 11.0, "drops": 5, "pos": 3.5},
              {"t": 12.0, "drops": 6, "pos": 4.0, "ms": 50.0}, {"t": 12.0, "drops": 6, "pos": 4.0, "ms": 90.0}]
    kept_up = [dict(w, pos=3.0 + (w["t"] - 10.0) * 0.5) for w in window]  # at half speed it keeps pace
    calls = [{"fn": "window_sample", "args": [window, BUDGET, 24, 1, True]},
             {"fn": "window_sample", "args": [kept_up, 2 * BUDGET, 24, 0.5, True]},
             {"fn": "window_sample", "args": [window[:2], BUDGET, 24, 1, True]},  # too few, too close
             {"fn": "window_sample", "args": [[window[0], window[2]], BUDGET, 24, 1, True]}]  # two, 2 s apart
    got = [r.get("value") for r in run_lua(tmp_path, calls)]
    assert got[0]["dropped"] == 1 + 24 and got[0]["due"] == pytest.approx(48) and got[0]["ms"] == 50.0
    assert got[1]["dropped"] == 1 and got[1]["due"] == pytest.approx(24)
    assert got[2] is None and got[3]["dropped"] == 25 and got[3]["ms"] == 40.0
