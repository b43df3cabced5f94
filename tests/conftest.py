"""Shared fixtures (where the real models and media of ../shared are), a test run kept away from the user's own
home, cache and config, and the ``--slow`` switch.

Tests marked ``slow`` (over about 5 s each on 2 cores) are skipped unless ``--slow`` is given (or a ``-m``
expression names them): plain ``pytest`` is the quick check, ``bash scripts/test.sh`` (CI) runs everything."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Environment settings the tests keep: where the shared test models and media are.
KEPT_SETTINGS = ("KIZUNASR_SHARED", "KIZUNASR_MODELS_DIR")


def shared_dir() -> Path:
    return Path(os.environ.get("KIZUNASR_SHARED", REPO.parent / "shared"))


def models_dir() -> Path:
    return Path(os.environ.get("KIZUNASR_MODELS_DIR", shared_dir() / "models"))


def shared_model(name: str) -> Path:
    """A real model from ../shared/models (or $KIZUNASR_MODELS_DIR); skips the test if it is absent."""
    path = models_dir() / name
    if not path.is_file():
        pytest.skip(f"model {name} not found in {models_dir()} (set KIZUNASR_MODELS_DIR or KIZUNASR_SHARED)")
    return path


def shared_media(name: str) -> Path:
    path = shared_dir() / "media" / name
    if not path.is_file():
        pytest.skip(f"media {name} not found in {shared_dir() / 'media'} (set KIZUNASR_SHARED)")
    return path


def shared_peer(relative: str) -> Path:
    """A peer project's shader from ../shared/peers (e.g. "cunny/CuNNy-fast.glsl"); skips the test if absent."""
    path = shared_dir() / "peers" / relative
    if not path.is_file():
        pytest.skip(f"peer shader {relative} not found in {shared_dir() / 'peers'} (set KIZUNASR_SHARED)")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (scripts/test.sh does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow") or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow (bash scripts/test.sh runs every test)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _user_config_root() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


@pytest.fixture(scope="session", autouse=True)
def private_user_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test, and every process a test starts, gets an empty home, cache and config of this session instead
    of the user's: models fetched or imported there, user profiles, models.json, compiled shaders, TensorRT
    engines and mpv's config cannot change what a test sees, nor can a test write there.

    Every ``KIZUNASR_*`` setting is cleared except ``KEPT_SETTINGS`` (the shared test data), and the cache folder
    is set to this session's. VapourSynth's own registration of its Python (``vapoursynth/vapoursynth.toml``
    in the config folder, which vspipe needs) is copied over: it is not KizunaSR's state."""
    root = tmp_path_factory.mktemp("user")
    home, cache, config = root / "home", root / "cache", root / "config"
    for folder in (home, cache, config, root / "data", root / "state"):
        folder.mkdir()
    vapoursynth_config = _user_config_root() / "vapoursynth"
    if vapoursynth_config.is_dir():
        shutil.copytree(vapoursynth_config, config / "vapoursynth")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("KIZUNASR_") and n not in KEPT_SETTINGS]:
            patch.delenv(name)
        for name in ("MPV_HOME", "TORCHINDUCTOR_CACHE_DIR"):
            patch.delenv(name, raising=False)
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CACHE_HOME", str(cache))
        patch.setenv("XDG_CONFIG_HOME", str(config))
        patch.setenv("XDG_DATA_HOME", str(root / "data"))
        patch.setenv("XDG_STATE_HOME", str(root / "state"))
        patch.setenv("KIZUNASR_CACHE_DIR", str(cache / "kizunasr"))
        yield root
