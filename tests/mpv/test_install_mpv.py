"""`kizunasr install-mpv` into a temporary mpv config dir, and `kizunasr play` under Xvfb.

The install tests use a private data dir (``KIZUNASR_DATA_DIR``) holding copies of ``glsl/``,
``profiles/`` and ``mpv_scripts/`` (with a stand-in kizunasr.lua when the real one is not there
yet), so they do not depend on the Lua script's state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from kizunasr_vs.cli.main import main
from kizunasr_vs.core import paths
from kizunasr_vs.mpv import install
from tests.conftest import REPO


def cli(*argv: str) -> int:
    """Run an mpv sub-command as `kizunasr` does (errors reported by cli/main.py)."""
    return main(list(argv))


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    for name in ("glsl", "profiles", "mpv_scripts"):
        shutil.copytree(REPO / name, root / name)
    lua = root / "mpv_scripts" / "kizunasr.lua"
    if not lua.exists():
        lua.write_text("-- stand-in for the KizunaSR mpv script\n")
    monkeypatch.setenv("KIZUNASR_DATA_DIR", str(root))
    return root


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "mpv"


def tree(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under root."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MPV_HOME", str(tmp_path / "home"))
    assert paths.mpv_config_dir() == tmp_path / "home"
    monkeypatch.delenv("MPV_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert paths.mpv_config_dir() == tmp_path / "xdg" / "mpv"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.mpv_config_dir() == tmp_path / ".config" / "mpv"


def test_install_copies_everything(data: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("install-mpv", "--config-dir", str(config)) == 0
    assert (config / "scripts/kizunasr.lua").read_bytes() == (data / "mpv_scripts/kizunasr.lua").read_bytes()
    shaders = sorted(p.name for p in (data / "glsl").glob("*.glsl"))
    assert sorted(p.name for p in (config / "shaders/kizunasr").iterdir() if p.is_file()) == shaders
    for name in shaders:
        assert (config / "shaders/kizunasr" / name).read_bytes() == (data / "glsl" / name).read_bytes()
    with_params = [n for n in shaders if "//!PARAM" in (data / "glsl" / n).read_text()]
    assert with_params and sorted(p.name for p in (config / install.COMPAT_DIR).iterdir()) == with_params
    for name in with_params:
        assert "//!PARAM" not in (config / install.COMPAT_DIR / name).read_text()
    for name in ("performance.json", "balanced.json", "quality.json"):
        assert (config / "script-opts/kizunasr-profiles" / name).read_bytes() == (data / "profiles" / name).read_bytes()
    opts = (config / "script-opts/kizunasr.conf").read_text()
    template = (data / "mpv_scripts/script-opts/kizunasr.conf").read_text()
    assert opts == install.script_opts(template, install.worker_command())
    worker = next(ln for ln in opts.splitlines() if ln.startswith("worker_command="))
    assert Path(worker.split("=", 1)[1].split()[0]).is_absolute() and worker.endswith(" worker")
    for line in ("profile=auto", "ai_on_pause=yes", "debounce_ms=250", "osd=yes", "shader_dir=~~/shaders/kizunasr"):
        assert line in opts.splitlines()
    conf = (config / "input.conf").read_text()
    assert install.BEGIN in conf and install.END in conf
    assert "CTRL+a script-binding kizunasr/toggle-ai" in conf.splitlines()
    manifest = json.loads((config / install.MANIFEST).read_text())
    assert manifest["files"] == {k: v for k, v in tree(config).items() if k not in (install.MANIFEST, "input.conf")}
    assert "installed scripts/kizunasr.lua" in capsys.readouterr().out


def test_second_run_is_up_to_date(data: Path, config: Path) -> None:
    install.install(config)
    before = tree(config)
    outcomes = install.install(config)
    assert {o.action for o in outcomes} == {"up to date"}, [str(o) for o in outcomes]
    assert tree(config) == before


def test_user_files_are_kept(data: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config / "scripts").mkdir(parents=True)
    (config / "scripts/kizunasr.lua").write_text("-- my own script\n")
    user_conf = "# my bindings\nctrl+a cycle pause\nq quit\n"
    (config / "input.conf").write_text(user_conf)
    assert cli("install-mpv", "--config-dir", str(config)) == 0
    out = capsys.readouterr().out
    assert "skipped scripts/kizunasr.lua: exists and differs; remove it or use --force" in out
    assert (config / "scripts/kizunasr.lua").read_text() == "-- my own script\n"
    conf = (config / "input.conf").read_text()
    assert conf.startswith(user_conf)
    lines = conf.splitlines()
    assert "CTRL+a script-binding kizunasr/toggle-ai" not in lines
    assert "#CTRL+a script-binding kizunasr/toggle-ai" in lines
    assert "CTRL+i script-binding kizunasr/show-status" in lines
    assert "CTRL+a already bound" in out
    assert "scripts/kizunasr.lua" not in json.loads((config / install.MANIFEST).read_text())["files"]


def test_force_replaces_with_backup(data: Path, config: Path) -> None:
    (config / "scripts").mkdir(parents=True)
    (config / "scripts/kizunasr.lua").write_text("-- old\n")
    outcomes = install.install(config, force=True)
    assert any(o.action == "replaced" and o.path == "scripts/kizunasr.lua" for o in outcomes)
    assert (config / "scripts/kizunasr.lua.kizunasr-bak").read_text() == "-- old\n"


def test_update_of_unchanged_previous_install(data: Path, config: Path) -> None:
    install.install(config)
    (data / "glsl" / "kizuna_cas.glsl").write_text("// new version\n")
    outcomes = install.install(config)
    assert any(o.action == "updated" and o.path == "shaders/kizunasr/kizuna_cas.glsl" for o in outcomes)
    assert (config / "shaders/kizunasr/kizuna_cas.glsl").read_text() == "// new version\n"


def test_uninstall_removes_only_ours(data: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.mkdir()
    user_conf = "q quit\n"
    (config / "input.conf").write_text(user_conf)
    (config / "mpv.conf").write_text("vo=gpu\n")
    install.install(config)
    (config / "shaders/kizunasr/kizuna_cas.glsl").write_text("// my tweak\n")
    assert cli("install-mpv", "--config-dir", str(config), "--uninstall") == 0
    out = capsys.readouterr().out
    assert "kept shaders/kizunasr/kizuna_cas.glsl: modified since install" in out
    assert tree(config).keys() == {"input.conf", "mpv.conf", "shaders/kizunasr/kizuna_cas.glsl"}
    assert (config / "input.conf").read_text() == user_conf


def test_uninstall_of_created_input_conf(data: Path, config: Path) -> None:
    install.install(config)
    install.uninstall(config)
    assert tree(config) == {}


def test_dry_run_writes_nothing(data: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.mkdir()
    (config / "input.conf").write_text("q quit\n")
    before = tree(config)
    assert cli("install-mpv", "--config-dir", str(config), "--dry-run") == 0
    assert "would install scripts/kizunasr.lua" in capsys.readouterr().out
    assert tree(config) == before
    install.install(config)
    before = tree(config)
    assert cli("install-mpv", "--config-dir", str(config), "--uninstall", "--dry-run") == 0
    assert "would remove scripts/kizunasr.lua" in capsys.readouterr().out
    assert tree(config) == before


def test_non_utf8_input_conf_is_kept_byte_for_byte(data: Path, config: Path) -> None:
    config.mkdir()
    user = "# réglages de Zoé\r\nq quit\r\nctrl+a cycle pause".encode("latin-1")  # CRLF, no final line end
    (config / "input.conf").write_bytes(user)
    assert cli("install-mpv", "--config-dir", str(config)) == 0
    conf = (config / "input.conf").read_bytes()
    assert conf.startswith(user) and install.BEGIN.encode() in conf
    assert b"#CTRL+a script-binding kizunasr/toggle-ai" in conf  # the user's ctrl+a was still read
    assert install.install(config)[-1].action == "up to date"
    assert cli("install-mpv", "--config-dir", str(config), "--uninstall") == 0
    assert tree(config) == {"input.conf": hashlib.sha256(user).hexdigest()}


def test_install_stopped_halfway_can_be_uninstalled(data: Path, config: Path) -> None:
    config.mkdir()
    (config / "input.conf").write_text("q quit\n")
    (config / "script-opts").mkdir()
    (config / "script-opts/kizunasr-profiles").write_text("a file where a folder goes\n")  # the install fails there
    assert cli("install-mpv", "--config-dir", str(config)) == 2
    written = set(tree(config)) - {"input.conf", "script-opts/kizunasr-profiles", install.MANIFEST}
    assert "scripts/kizunasr.lua" in written and "script-opts/kizunasr.conf" in written
    assert cli("install-mpv", "--config-dir", str(config), "--uninstall") == 0
    assert set(tree(config)) == {"input.conf", "script-opts/kizunasr-profiles"}
    assert (config / "input.conf").read_text() == "q quit\n"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_installed_files_follow_the_umask_and_replaced_ones_keep_their_mode(data: Path, config: Path, umask: int,
                                                                           mode: int) -> None:
    config.mkdir()
    (config / "input.conf").write_text("q quit\n")
    (config / "input.conf").chmod(0o640)
    (config / "scripts").mkdir()
    (config / "scripts/kizunasr.lua").write_text("-- old\n")
    (config / "scripts/kizunasr.lua").chmod(0o751)
    previous = os.umask(umask)
    try:
        install.install(config, force=True)
    finally:
        os.umask(previous)
    modes = {rel: (config / rel).stat().st_mode & 0o777 for rel in tree(config)}
    assert modes.pop("input.conf") == 0o640
    assert modes.pop("scripts/kizunasr.lua") == 0o751
    assert modes.pop("scripts/kizunasr.lua.kizunasr-bak") == 0o751
    assert set(modes.values()) == {mode}, modes


# ----- play ------------------------------------------------------------------------------------


def make_clip(path: Path, width: int = 160, height: int = 120) -> None:
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=10",
                    "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-y", str(path)], check=True, timeout=60)


@pytest.mark.slow
def test_play_sets_shaders_and_overlays_on_pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.glsl_helpers import have_mpv, xvfb

    reason = have_mpv() or (None if shutil.which("ffmpeg") else "ffmpeg not installed")
    if reason:
        pytest.skip(reason)
    try:
        from kizunasr_vs.mpv import play
    except OSError as e:  # libmpv missing
        pytest.skip(str(e))
    if play.load_mpv() is None:
        pytest.skip("libmpv not available")
    from kizunasr_vs.profiles.loader import load_profile

    media = tmp_path / "clip.mp4"
    make_clip(media)
    from kizunasr_vs.render.source import params_as_defines

    monkeypatch.setenv("KIZUNASR_CACHE_DIR", str(tmp_path / "cache"))
    originals = [REPO / "glsl" / s["shader"] for s in load_profile("performance").for_height(120).realtime]
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.setenv("LIBGL_ALWAYS_SOFTWARE", "1")
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
        player = play.Player(media, "performance", extra={"gpu_sw": True, "ao": "null", "loop_file": "inf",
                                                          "geometry": "320x240", "log_file": str(tmp_path / "mpv.log")})
        worker = threading.Thread(target=player.run, daemon=True)
        worker.start()
        try:
            assert player.started.wait(30), "playback did not start"
            expected = player.shaders  # set by the mpv script (its governor's first tier), from play's own config
            assert player.tier == 1 and len(expected) == len(originals)
            for path, original in zip(expected, originals, strict=True):  # mpv < 0.36: the copies without PARAM
                copied = player.old_mpv and "//!PARAM" in original.read_text()  # shaders with no PARAM need none
                want = params_as_defines(original.read_text()) if copied else original.read_text()
                assert Path(path).read_text() == want
                assert Path(path).is_relative_to(tmp_path / "cache" / "play-mpv" / "shaders" / "kizunasr")
            assert [str(p) for p in player.mpv.glsl_shaders] == expected
            player.mpv.pause = True
            deadline = time.monotonic() + 90
            while player.last_overlay is None and time.monotonic() < deadline:
                time.sleep(0.1)
            shown = player.last_overlay
            assert shown is not None, "no overlay after pausing"
            assert shown.size == (320, 240) and shown.pos == (0, 0)  # the whole 2x window
            assert shown.source == (160, 120)
            assert shown.timings["total"] > 0 and shown.timings["inference"] > 0
            assert player.still.state.overlay
            assert [str(p) for p in player.mpv.glsl_shaders] == expected  # restored after the grab
            player.mpv.pause = False
            deadline = time.monotonic() + 10
            while player.still.state.overlay and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not player.still.state.overlay
        finally:
            player.quit()
            worker.join(20)
        assert not worker.is_alive(), "player did not quit"
        log = (tmp_path / "mpv.log").read_text()
        assert "[kizunasr]" in log and "starting worker" not in log and "worker '' not found" not in log  # no worker


def test_play_without_libmpv_fails_clearly(tmp_path: Path) -> None:
    import subprocess

    code = ("import sys, ctypes.util; ctypes.util.find_library = lambda name: None; "
            "sys.modules['mpv'] = None; from kizunasr_vs.cli.main import main; "
            f"sys.exit(main(['play', {str(tmp_path / 'x.mp4')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ), cwd=REPO)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("kizunasr play: libmpv is not available") and "Traceback" not in result.stderr


def test_mpv035_copies_render_like_the_originals() -> None:
    """The PARAM-less copies (defaults #defined) give libplacebo's output for the PARAM defaults, bit for bit."""
    import numpy as np
    import vapoursynth as vs

    import kizunasr_vs as kz
    from kizunasr_vs.core.sample import sample_clip
    from kizunasr_vs.render.source import params_as_defines

    clip = sample_clip(frames=1, width=64, height=48, format=vs.YUV444P16)  # line art, flat areas, gradients
    shaders = [p for p in sorted((REPO / "glsl").glob("*.glsl")) if "//!PARAM" in p.read_text()]
    assert shaders
    for path in shaders:
        text = path.read_text()
        ours, theirs = kz.shader(clip, params_as_defines(text)), kz.shader(clip, text)
        a, b = ours.get_frame(0), theirs.get_frame(0)
        for i in range(3):
            np.testing.assert_array_equal(np.asarray(a[i]), np.asarray(b[i]), err_msg=path.name)


# ----- input.conf: the user's lines are never lost ----------------------------------------------

STRAY = "a cycle pause\n# >>> kizunasr >>>\nmy line\nb cycle mute\n"  # a start marker with no end marker


def a_binding(data: Path) -> str:
    """A key binding line of the snippet install puts into input.conf."""
    lines = (data / "mpv_scripts" / "input.conf").read_text().splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")][-1]


def ours(conf: str) -> list[str]:
    """The lines of the last BEGIN..END block, markers included (found independently of install's code)."""
    lines = conf.splitlines()
    end = len(lines) - 1 - lines[::-1].index(install.END)
    start = max(i for i in range(end) if lines[i] == install.BEGIN)
    return lines[start:end + 1]


@pytest.mark.parametrize("user", [
    STRAY,
    "# >>> kizunasr >>>\nx quit\n# >>> kizunasr >>>\ny cycle mute\n",  # several start markers, no end
    "p cycle pause\n# <<< kizunasr <<<\nq quit\n",  # an end marker with no start
], ids=["start-without-end", "several-starts", "end-without-start"])
def test_uninstall_keeps_lines_around_stray_markers(data: Path, config: Path, user: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config.mkdir()
    (config / "input.conf").write_text(user)
    assert cli("install-mpv", "--config-dir", str(config)) == 0
    said = capsys.readouterr().out
    conf = (config / "input.conf").read_text()
    assert conf.startswith(user)  # ours went after the user's lines, which are untouched
    assert a_binding(data) in ours(conf)
    assert cli("install-mpv", "--config-dir", str(config)) == 0  # a second install finds its own block
    assert (config / "input.conf").read_text() == conf
    capsys.readouterr()
    assert cli("install-mpv", "--config-dir", str(config), "--uninstall") == 0
    assert (config / "input.conf").read_text() == user
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "input.conf" in ln)
    assert line.strip().startswith("removed input.conf: kizunasr key bindings (your lines kept;")
    assert "not written by this install kept as they are" in line
    assert "kizunasr marker line" in said and "kept as they are" in said


def test_uninstall_keeps_an_edited_block(data: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.mkdir()
    (config / "input.conf").write_text("q quit\n")
    install.install(config)
    conf = (config / "input.conf").read_text()
    edited = conf.replace(a_binding(data), a_binding(data) + "\nz my own line")
    assert edited != conf
    (config / "input.conf").write_text(edited)
    assert cli("install-mpv", "--config-dir", str(config), "--uninstall") == 0
    assert (config / "input.conf").read_text() == edited
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "input.conf" in ln)
    assert line.strip().startswith("kept input.conf: the kizunasr block is not the one this install wrote")


def test_install_keeps_a_block_it_did_not_write(data: Path, config: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config.mkdir()
    user = f"q quit\n{install.BEGIN}\nx my binding\n{install.END}\n"
    (config / "input.conf").write_text(user)
    assert cli("install-mpv", "--config-dir", str(config)) == 0
    assert (config / "input.conf").read_text() == user
    assert "skipped input.conf: the kizunasr block at lines 2-4 is not the one this install wrote" in \
        capsys.readouterr().out
    install.install(config, force=True)  # --force adds ours after it
    conf = (config / "input.conf").read_text()
    assert conf.startswith(user) and a_binding(data) in ours(conf)
    install.uninstall(config)
    assert (config / "input.conf").read_text() == user


def test_symlinked_input_conf_stays_a_link(data: Path, config: Path, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "mpv-input.conf"
    real.write_text("q quit\n")
    real.chmod(0o640)
    config.mkdir()
    (config / "input.conf").symlink_to("../dotfiles/mpv-input.conf")  # a relative link, as dotfile managers make
    install.install(config)
    assert (config / "input.conf").is_symlink() and os.readlink(config / "input.conf") == "../dotfiles/mpv-input.conf"
    assert real.read_text().startswith("q quit\n") and install.BEGIN in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in dotfiles.iterdir()) == ["mpv-input.conf"]  # no temporary file left there
    install.uninstall(config)
    assert (config / "input.conf").is_symlink() and real.read_text() == "q quit\n"
    assert real.stat().st_mode & 0o777 == 0o640


def test_dangling_input_conf_link_is_left_alone(data: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.mkdir()
    (config / "input.conf").symlink_to(config / "nowhere.conf")
    assert cli("install-mpv", "--config-dir", str(config)) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "input.conf" in ln)
    assert line.strip().startswith("skipped input.conf:") and "which does not exist" in line
    assert not (config / "nowhere.conf").exists() and (config / "input.conf").is_symlink()


def test_uninstall_removes_only_the_empty_folders_it_created(data: Path, config: Path) -> None:
    (config / "scripts").mkdir(parents=True)
    (config / "scripts" / "mine.lua").write_text("-- mine\n")
    (config / "shaders").mkdir()  # the user's, empty
    install.install(config)
    (config / "script-opts" / "other.conf").write_text("x=1\n")  # a file of the user's in a folder we created
    install.uninstall(config)
    left = sorted(str(p.relative_to(config)) for p in config.rglob("*"))
    assert left == ["script-opts", "script-opts/other.conf", "scripts", "scripts/mine.lua", "shaders"]


def test_uninstall_removes_a_config_folder_it_created(data: Path, config: Path) -> None:
    install.install(config)
    install.uninstall(config)
    assert not config.exists()
