"""`auto`: pick the best profile this machine can run for the user's preference."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kizunasr_vs.core import hardware
from kizunasr_vs.core.errors import InputError
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


def detect_machine() -> Machine:
    """A GPU counts when onnxruntime can use it (CUDA or TensorRT provider and an NVIDIA GPU)."""
    found, providers = hardware.gpu(), hardware.onnxruntime_providers()
    gpu = found.present and any(p in providers for p in GPU_PROVIDERS)
    return Machine(gpu=gpu, vram_gb=found.vram_gb if gpu else 0.0, providers=providers)


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
        raise InputError(f"unknown preference '{preference}'; choose one of {', '.join(PREFERENCES)}")
    machine = machine or detect_machine()
    for name in reversed(PREFERENCES[: PREFERENCES.index(preference) + 1]):
        profile = load_profile(name)
        problems = unmet_requirements(profile, machine)
        if not problems:
            log.info("auto profile: %s", name)
            return profile
        log.info("auto profile: skipping %s: %s", name, "; ".join(problems))
    raise AssertionError("unreachable: the performance profile has no requirements")
