"""`auto`: pick the best profile this machine can run for the user's preference."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field

from kizunasr_vs.core import hardware
from kizunasr_vs.profiles.loader import Profile, load_profile

log = logging.getLogger("kizunasr")

PREFERENCES = ("performance", "balanced", "quality")
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


@dataclass(frozen=True)
class Machine:
    """What the profile requirements are checked against."""

    gpu: bool
    vram_gb: float = 0.0
    providers: list[str] = field(default_factory=list)


def nvidia_vram_gb() -> float:
    """Total memory of the largest NVIDIA GPU in GiB (0 without one)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0.0
    sizes = [float(v) for v in out.stdout.split() if v.replace(".", "").isdigit()]
    return max(sizes, default=0.0) / 1024


def detect_machine() -> Machine:
    """A GPU counts when onnxruntime can use it (CUDA or TensorRT provider and an NVIDIA GPU)."""
    info = hardware.detect()
    gpu = bool(info.gpus) and any(p in info.providers for p in GPU_PROVIDERS)
    return Machine(gpu=gpu, vram_gb=nvidia_vram_gb() if gpu else 0.0, providers=info.providers)


def unmet_requirements(profile: Profile, machine: Machine) -> list[str]:
    """Why ``machine`` cannot run ``profile`` well (empty when it can)."""
    needs = profile.requires
    problems = []
    if needs.get("gpu") and not machine.gpu:
        problems.append("needs an NVIDIA GPU with onnxruntime-gpu (CUDA or TensorRT provider)")
    if machine.gpu and machine.vram_gb < needs.get("min_vram_gb", 0):
        problems.append(f"needs {needs['min_vram_gb']} GiB of GPU memory, found {machine.vram_gb:.1f}")
    if "onnx" in needs.get("backends", []) and not machine.providers:
        problems.append("needs onnxruntime")
    return problems


def auto_profile(preference: str = "quality", machine: Machine | None = None) -> Profile:
    """The most demanding profile up to ``preference`` that this machine meets; `performance` always fits."""
    if preference not in PREFERENCES:
        raise ValueError(f"unknown preference '{preference}'; choose one of {', '.join(PREFERENCES)}")
    machine = machine or detect_machine()
    for name in reversed(PREFERENCES[: PREFERENCES.index(preference) + 1]):
        profile = load_profile(name)
        problems = unmet_requirements(profile, machine)
        if not problems:
            log.info("auto profile: %s", name)
            return profile
        log.info("auto profile: skipping %s: %s", name, "; ".join(problems))
    raise AssertionError("unreachable: the performance profile has no requirements")
