"""`kizunasr doctor`: what KizunaSR found on this machine, and advice for what is missing."""

from __future__ import annotations

import argparse
import platform
import shutil
import sys

import vapoursynth as vs

from kizunasr_vs.core import hardware


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Python, VapourSynth, vs-placebo/Vulkan, onnxruntime, GPUs, ffmpeg")
    p.set_defaults(run=run)


def _line(ok: bool | None, what: str, detail: str) -> None:
    mark = {True: "ok  ", False: "FAIL", None: "note"}[ok]
    print(f"[{mark}] {what:<14} {detail}")


def _calibrated_choices() -> str:
    """What `kizunasr bench --calibrate` recorded for backend='auto' on this machine, by model name."""
    from kizunasr_vs.inference.backend_choice import recorded
    from kizunasr_vs.models.errors import RegistryError
    from kizunasr_vs.models.registry import load_registry

    choices = recorded()
    if not choices:
        return "none recorded here (onnxruntime's order; `kizunasr bench --calibrate --model M --size WxH`)"
    try:
        names = {entry.sha256: entry.name for entry in load_registry().values()}
    except RegistryError:  # a broken user registry is reported by `kizunasr models list`
        names = {}
    return "; ".join(f"{names.get(sha, sha[:12])} {w}x{h} -> {backend}" for sha, w, h, backend in choices)


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    py_ok = sys.version_info >= (3, 12)
    _line(py_ok, "python", f"{platform.python_version()} ({sys.executable})")
    if not py_ok:
        problems.append("Python >= 3.12 is needed: run `bash scripts/setup.sh`, which finds or explains one")
    core = vs.core
    _line(True, "vapoursynth", f"R{core.core_version.release_major} (API {core.api_version.api_major}."
          f"{core.api_version.api_minor}), {core.num_threads} threads")
    for namespace, package in (("placebo", "vs-placebo"), ("bs", "vapoursynth-bestsource"), ("resize", None)):
        found = hasattr(core, namespace)
        _line(found, f"plugin {namespace}", "loaded" if found else f"missing: pip install {package}")
        if not found:
            problems.append(f"VapourSynth plugin '{namespace}' is missing: `pip install {package}`")
    device = hardware.vulkan_device()
    if device.name:
        kind = "software (lavapipe: correct but slow)" if device.software else "hardware"
        _line(True, "vulkan", f"{device.name} [{kind}]")
    else:
        _line(False, "vulkan", f"no device: {device.error}")
        problems.append("no Vulkan device for vs-placebo: install mesa-vulkan-drivers and libvulkan1 "
                        "(or the GPU vendor's Vulkan driver)")
    if hasattr(core, "placebo"):
        from kizunasr_vs.render.placebo import renderer_choice

        renderer, why = renderer_choice()
        _line(None, "shader renderer", f"{renderer}: {why}")
    info = hardware.detect()
    if info.onnxruntime_version:
        _line(True, "onnxruntime", f"{info.onnxruntime_version}: {', '.join(info.providers)}")
        from kizunasr_vs.inference.ort_session import choose_providers

        _line(None, "auto provider", choose_providers("auto")[0])
    else:
        _line(False, "onnxruntime", "missing: pip install 'kizunasr[cpu]' (or [cuda] for onnxruntime-gpu)")
        problems.append("onnxruntime is missing: `pip install onnxruntime` or `onnxruntime-gpu`")
    _line(None, "gpus", ", ".join(info.gpus) or "none found (nvidia-smi)")
    from kizunasr_vs.core.hardware import torch_cuda_available

    _line(None, "torch backend", "available (backend=Torch() or Torch(compile=True); `kizunasr bench --calibrate` "
          "lets backend='auto' pick it where faster)" if torch_cuda_available()
          else "not available (optional: pip install 'kizunasr[torch]' on an NVIDIA machine)")
    if info.onnxruntime_version:
        _line(None, "auto choices", _calibrated_choices())
    for tool in ("ffmpeg", "mpv"):
        path = shutil.which(tool)
        _line(bool(path) if tool == "ffmpeg" else (None if not path else True), tool,
              path or f"not found: apt-get install {tool}")
        if tool == "ffmpeg" and not path:
            problems.append("ffmpeg is missing: `apt-get install ffmpeg` (needed for upscale/encode)")
    if problems:
        print("\nTo fix:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("\nAll required parts found.")
    return 0
