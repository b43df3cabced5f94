"""What this machine offers the backends: Vulkan device, GPUs, onnxruntime providers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

_PROBE_SCRIPT = """
import vapoursynth as vs
clip = vs.core.std.BlankClip(format=vs.YUV444P16, width=16, height=16, length=1)
shader = b"//!HOOK MAIN\\n//!BIND HOOKED\\nvec4 hook() { return HOOKED_tex(HOOKED_pos); }\\n"
vs.core.placebo.Shader(clip, shader_s=shader, log_level=4).get_frame(0)
"""
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class VulkanDevice:
    """The Vulkan device libplacebo picks (through vs-placebo), or why there is none."""

    name: str | None
    software: bool
    error: str | None = None


@dataclass
class Hardware:
    gpus: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    onnxruntime_version: str | None = None


def vulkan_device(timeout: float = 60.0) -> VulkanDevice:
    """Render one frame through vs-placebo in a child process and read which device it used."""
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE_SCRIPT], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return VulkanDevice(None, False, f"vs-placebo did not answer within {timeout:.0f} s")
    log = _ANSI.sub("", proc.stdout + proc.stderr)  # vs-placebo writes libplacebo's log to stdout
    match = re.search(r"Device Name:\s*(.+)", log)
    if proc.returncode != 0 or match is None:
        last = [line for line in log.splitlines() if line.strip()][-3:]
        return VulkanDevice(None, False, " | ".join(last) or f"exit code {proc.returncode}")
    name = match.group(1).strip()
    return VulkanDevice(name, "llvmpipe" in name or "(software)" in log)


def nvidia_gpus() -> list[str]:
    """NVIDIA GPUs as `nvidia-smi -L` lists them (empty without the driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (subprocess.TimeoutExpired, OSError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.startswith("GPU")]


def onnxruntime_info() -> tuple[str | None, list[str]]:
    """onnxruntime's version and execution providers, or (None, []) if it is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, []
    return ort.__version__, list(ort.get_available_providers())


def detect() -> Hardware:
    version, providers = onnxruntime_info()
    return Hardware(gpus=nvidia_gpus(), providers=providers, onnxruntime_version=version)
