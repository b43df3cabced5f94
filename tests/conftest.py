"""Shared fixtures: where the real models and media of ../shared are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
