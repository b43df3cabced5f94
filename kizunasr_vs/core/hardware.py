"""What this machine offers the backends: Vulkan device, GPUs, CUDA, TensorRT, torch, onnxruntime providers.

The one place that asks "is there a GPU, which, how much memory": profiles (``auto``), the cluster (local GPU
count) and ``kizunasr doctor`` read ``gpu()`` (nvidia-smi). What a measurement or a built engine is valid for is
``identity()``: the GPU CUDA runs on (device 0 as CUDA numbers them, so after ``CUDA_VISIBLE_DEVICES``), its
driver and the library versions; the backend calibration and the TensorRT engine cache are keyed by it."""

from __future__ import annotations

import ctypes
import functools
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

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


def cuda_driver() -> Any | None:
    """The CUDA driver library (``libcuda``), or None without an NVIDIA driver."""
    try:
        return ctypes.WinDLL("nvcuda.dll") if sys.platform == "win32" else ctypes.CDLL("libcuda.so.1")  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return None


def cuda_device_name(driver: Any | None, device_id: int = 0) -> str | None:
    """The name ``driver`` (the CUDA driver API) gives device ``device_id`` as CUDA numbers them, so after
    ``CUDA_VISIBLE_DEVICES``; None where there is no such device or it cannot be read."""
    if driver is None:
        return None
    try:
        device = ctypes.c_int()
        name = ctypes.create_string_buffer(256)
        if driver.cuInit(0) or driver.cuDeviceGet(ctypes.byref(device), device_id):
            return None
        if driver.cuDeviceGetName(name, len(name), device):
            return None
        return name.value.decode(errors="replace") or None
    except AttributeError:
        return None


def cuda_driver_version(driver: Any | None) -> str | None:
    """The CUDA version the driver supports ("12.4"), or None."""
    if driver is None:
        return None
    version = ctypes.c_int()
    try:
        if driver.cuDriverGetVersion(ctypes.byref(version)):
            return None
    except AttributeError:
        return None
    return f"{version.value // 1000}.{version.value % 1000 // 10}"


@functools.cache
def tensorrt_version() -> str | None:
    """TensorRT's version ("10.3.0") when its runtime library loads, else None. onnxruntime-gpu lists the
    TensorRT provider whether or not TensorRT is installed (a session asking for it then falls back), so
    ``"auto"`` asks this first."""
    for name in ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            value = int(lib.getInferLibVersion())
        except AttributeError:
            return "unknown"
        major, rest = (value // 10000, value % 10000) if value >= 10000 else (value // 1000, value % 1000)
        return f"{major}.{rest // 100}.{rest % 100}"
    return None


def torch_version() -> str | None:
    """The installed PyTorch's version, or None (it is optional)."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def torch_cuda_available() -> bool:
    """True when PyTorch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@dataclass(frozen=True)
class Identity:
    """What a measured backend choice or a built TensorRT engine is valid for: the GPU CUDA runs on, its driver,
    and the libraries that ran it ("none" for what is missing)."""

    gpu: str
    driver: str
    onnxruntime: str
    torch: str
    tensorrt: str

    @property
    def key(self) -> str:
        """One line naming all of it (the calibration record's machine key)."""
        return (f"{self.gpu} | driver {self.driver} | onnxruntime {self.onnxruntime} | torch {self.torch} | "
                f"tensorrt {self.tensorrt}")

    @property
    def slug(self) -> str:
        """The key as a folder name (the TensorRT engine cache's)."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.gpu}_cuda{self.driver}_ort{self.onnxruntime}_"
                                                 f"trt{self.tensorrt}")


def read_identity(driver: Any | None, onnxruntime: str | None, torch: str | None, tensorrt: str | None,
                  device_id: int = 0) -> Identity:
    """The identity from its sources: the CUDA driver library (or None) and the library versions."""
    return Identity(cuda_device_name(driver, device_id) or "no-gpu", cuda_driver_version(driver) or "none",
                    onnxruntime or "none", torch or "none", tensorrt or "none")


@functools.cache
def identity(device_id: int = 0) -> Identity:
    """This process's identity for CUDA device ``device_id`` (asked once: CUDA reads ``CUDA_VISIBLE_DEVICES``
    once, at its start)."""
    return read_identity(cuda_driver(), onnxruntime_info()[0], torch_version(), tensorrt_version(), device_id)


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
