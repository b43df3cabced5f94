"""What this machine offers the backends: Vulkan device, GPUs, onnxruntime providers.

The one place that asks "is there a GPU, which, how much memory": profiles (``auto``), the backend
calibration (its machine key), the cluster (local GPU count) and ``kizunasr doctor`` all read ``gpu()``."""

from __future__ import annotations

import ctypes
import functools
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


@dataclass(frozen=True)
class Gpu:
    """The NVIDIA GPUs ``nvidia-smi`` lists (none without the driver) and the largest one's memory."""

    listed: tuple[str, ...] = ()  # `nvidia-smi -L` lines: "GPU 0: NAME (UUID: ...)"
    vram_gb: float = 0.0  # total memory of the largest GPU in GiB (0 without one)

    @property
    def present(self) -> bool:
        return bool(self.listed)

    @property
    def count(self) -> int:
        return len(self.listed)

    @property
    def name(self) -> str | None:
        """The first GPU's name ("NVIDIA H200"), None without one."""
        if not self.listed:
            return None
        return self.listed[0].split("(UUID")[0].split(":", 1)[-1].strip()


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


def nvidia_vram_gb() -> float:
    """Total memory of the largest NVIDIA GPU in GiB (0 without one)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0.0
    sizes = [float(v) for v in out.stdout.split() if v.replace(".", "").isdigit()]
    return max(sizes, default=0.0) / 1024


@functools.cache
def gpu() -> Gpu:
    """This machine's NVIDIA GPUs, asked once per process."""
    listed = tuple(nvidia_gpus())
    return Gpu(listed, nvidia_vram_gb() if listed else 0.0)


def cuda_device_name(device_id: int = 0) -> str:
    """The name the CUDA driver API gives device ``device_id`` (as CUDA numbers them, so after
    ``CUDA_VISIBLE_DEVICES``), or ``"unknown-gpu"`` where it cannot be read."""
    try:
        lib = ctypes.WinDLL("nvcuda.dll") if sys.platform == "win32" else ctypes.CDLL("libcuda.so.1")  # type: ignore[attr-defined,unused-ignore]
        device = ctypes.c_int()
        name = ctypes.create_string_buffer(256)
        if lib.cuInit(0) or lib.cuDeviceGet(ctypes.byref(device), device_id):
            return "unknown-gpu"
        if lib.cuDeviceGetName(name, len(name), device):
            return "unknown-gpu"
        return name.value.decode(errors="replace") or "unknown-gpu"
    except (OSError, AttributeError):
        return "unknown-gpu"


def onnxruntime_info() -> tuple[str | None, list[str]]:
    """onnxruntime's version and execution providers, or (None, []) if it is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, []
    return ort.__version__, list(ort.get_available_providers())


def onnxruntime_providers() -> list[str]:
    """The execution providers of the installed onnxruntime (empty without it)."""
    return onnxruntime_info()[1]


def detect() -> Hardware:
    """GPUs (``gpu()``) and onnxruntime's providers."""
    version, providers = onnxruntime_info()
    return Hardware(gpus=list(gpu().listed), providers=providers, onnxruntime_version=version)
