"""A plain wheel install carries the data folders (shaders, profiles, mpv script) and finds them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("setuptools", reason="building the wheel needs setuptools (the test extra has it)")


@pytest.mark.slow
def test_wheel_install_finds_its_data(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "tests"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("kizunasr-*.whl"))
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would first uninstall the checkout's editable install
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
                              "--ignore-installed", "--prefix", str(prefix), str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    site_packages = sysconfig.get_path("purelib", vars={"base": str(prefix)})
    code = ("import kizunasr_vs.core.paths as r, kizunasr_vs.profiles.loader as l\n"
            "print(r.__file__); print(r.data_dir('glsl')); print(r.data_dir('mpv_scripts'))\n"
            "print(l.available_profiles()['balanced'])\n")
    env = {**os.environ, "PYTHONPATH": site_packages}
    env.pop("KIZUNASR_DATA_DIR", None)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user profiles overriding the installed ones
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    module, glsl, scripts, balanced = run.stdout.splitlines()
    assert module.startswith(str(prefix))  # the installed copy, not the source tree
    assert (Path(module).parents[1] / "py.typed").is_file()  # type checkers read the package's hints
    assert Path(glsl) == prefix / "share/kizunasr/glsl" and (Path(glsl) / "kizuna_edge2x.glsl").is_file()
    assert Path(scripts) == prefix / "share/kizunasr/mpv_scripts"
    for name in ("kizunasr.lua", "input.conf", "script-opts/kizunasr.conf"):
        assert (Path(scripts) / name).is_file(), name
    assert Path(balanced) == prefix / "share/kizunasr/profiles/balanced.json"
