"""The measured backend choice behind ``backend="auto"``: onnxruntime or the PyTorch backend, per model.

Which backend is faster depends on the model and the GPU (the compiled torch backend can win by a wide
margin, eager torch can lose to onnxruntime's CUDA EP; docs/BENCHMARKS.md), so ``auto`` does not guess:
``kizunasr bench --calibrate`` times the CUDA EP, "torch" and "torch-compile" through ``kizunasr_vs.onnx``
on this machine and records the winner here, keyed by model (sha256), frame size and the machine's
``hardware.identity()`` (GPU, driver, library versions). ``auto`` then uses the torch backend only where a
calibration on this exact machine measured it faster; a new driver, GPU or library version makes old records
invisible (a rerun of the calibration replaces them).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kizunasr_vs.core import hardware
from kizunasr_vs.core.files import write_atomic
from kizunasr_vs.core.paths import cache_dir

log = logging.getLogger(__name__)


def choices_path() -> Path:
    """The JSON file of recorded choices (``$KIZUNASR_CACHE_DIR`` overrides the user cache dir)."""
    return cache_dir() / "backend_choice.json"


def machine_key() -> str:
    """What a measured choice is only valid for: ``hardware.identity()`` (the GPU CUDA runs on, after
    ``CUDA_VISIBLE_DEVICES``, its driver, onnxruntime, torch and TensorRT versions)."""
    return hardware.identity().key


def _entry_key(model_sha256: str, width: int, height: int) -> str:
    return f"{model_sha256}:{width}x{height}"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable backend choices %s (%s); rerun `kizunasr bench --calibrate`", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def record(model_sha256: str, width: int, height: int, fps: dict[str, float], machine: str | None = None) -> str:
    """Store the faster backend (``fps``: backend -> measured fps) for this model and size; returns it."""
    best = max(fps, key=lambda name: fps[name])
    path = choices_path()
    data = _load(path)
    machine = machine or machine_key()
    data.setdefault(machine, {})[_entry_key(model_sha256, width, height)] = {
        "backend": best, "fps": {k: round(v, 2) for k, v in fps.items()}}
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True))  # readers never see half a file
    return best


def lookup(model_sha256: str, width: int, height: int, machine: str | None = None) -> str | None:
    """The backend a calibration on this machine measured faster for this model and size, or None."""
    data = _load(choices_path())
    if not data:
        return None
    entry = data.get(machine or machine_key(), {}).get(_entry_key(model_sha256, width, height))
    return entry.get("backend") if isinstance(entry, dict) else None


def recorded(machine: str | None = None) -> list[tuple[str, int, int, str]]:
    """This machine's calibrated choices as (model sha256, width, height, backend), sorted."""
    out = []
    for key, entry in _load(choices_path()).get(machine or machine_key(), {}).items():
        sha, _, size = key.rpartition(":")
        width, _, height = size.partition("x")
        if isinstance(entry, dict) and width.isdigit() and height.isdigit():
            out.append((sha, int(width), int(height), str(entry.get("backend"))))
    return sorted(out)
