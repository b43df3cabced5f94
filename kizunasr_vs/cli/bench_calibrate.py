"""`kizunasr bench --calibrate`: each backend through the onnx filter next to the model alone, in the same run on
the same device; the fastest through the filter is recorded for backend='auto' (inference/backend_choice.py).

"filter": ``kizunasr_vs.onnx`` on YUV420P8 noise frames, YUV420P10 out (an encode's formats), converted on the
GPU (with zimg on the CPU provider): VapourSynth, host copies, colour conversion, frames in flight.
"model alone": the same network in the same precision on one frame already where it runs
(inference/model_alone.py). The ratio, filter / model alone, is the share of the network's speed that the frame
path keeps. The record compares onnxruntime's CUDA provider with the torch backend; on a machine without them
the CPU provider is timed the same way and nothing is recorded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import vapoursynth as vs

from kizunasr_vs.cli.bench_timing import WARM_FRAMES, FilterTiming, time_calls, time_onnx_filter

ROUNDS = 3  # each figure is the best of 3 passes (short runs measure the pipeline filling up)


def calibration_backends() -> tuple[list[str], str | None]:
    """The backends to time here and, where no record for 'auto' can be made, the one line that says why."""
    from kizunasr_vs.core.hardware import torch_cuda_available
    from kizunasr_vs.inference.ort_session import CUDA, available_providers, choose_providers
    from kizunasr_vs.inference.torch_backend import TORCH_PROVIDERS

    ort_cuda, torch_cuda = CUDA in available_providers(), torch_cuda_available()
    missing = []
    if not ort_cuda:
        missing.append("onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    elif choose_providers("auto")[0] != CUDA:
        missing.append("onnxruntime's auto choice here is TensorRT")
    if not torch_cuda:
        missing.append("PyTorch sees no CUDA device (pip install 'kizunasr[torch]' on an NVIDIA GPU)")
    backends = (["cuda"] if ort_cuda else []) + (list(TORCH_PROVIDERS) if torch_cuda else [])
    if not missing:
        return backends, None
    backends = backends or ["cpu"]
    return backends, (f"kizunasr bench --calibrate: {'; '.join(missing)}: timing {', '.join(backends)} only, "
                      "nothing recorded for backend='auto'")


def significant(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits (a ratio far below 1 keeps its digits)."""
    return float(f"{value:.{digits}g}")


def _filter(model: Path, backend: str, width: int, height: int, frames: int) -> tuple[FilterTiming, str]:
    """The filter's fps on an encode's formats, and how the frames went: converted on the GPU, by zimg (the CPU
    provider's default), or RGB frames for models that cannot take YUV planes (1-channel models, old opsets)."""
    if backend == "cpu":
        return (time_onnx_filter(model, backend, width, height, frames, yuv=True, rounds=ROUNDS),
                "yuv420p8->p10 zimg")
    try:
        return (time_onnx_filter(model, backend, width, height, frames, yuv=True, yuv_io=True, rounds=ROUNDS),
                "yuv420p8->p10 on the GPU")
    except vs.Error:
        return time_onnx_filter(model, backend, width, height, frames, yuv=False, rounds=ROUNDS), "rgbs"


def calibration_row(model: Path, backend: str, width: int, height: int, frames: int) -> tuple[dict[str, Any], float]:
    """One backend at one size: the filter, then (its runners released) the model alone. Returns the row (fps
    rounded to 2 decimals, the ratio computed from them to 3 significant digits) and the filter's unrounded fps
    (for the record)."""
    from kizunasr_vs.inference.model_alone import model_alone
    from kizunasr_vs.inference.ort_session import load_model
    from kizunasr_vs.inference.runner_cache import free_memory

    timing, frame_path = _filter(model, backend, width, height, frames)
    alone = model_alone(load_model(str(model)), backend, width, height, timing.precision)
    alone_fps = time_calls(alone.run, frames, rounds=ROUNDS, warm=WARM_FRAMES)
    filter_fps, alone_fps = round(timing.fps, 2), round(alone_fps, 2)
    row = {"what": f"onnx {model.name} {frame_path}", "size": f"{width}x{height}", "provider": backend,
           "precision": timing.precision, "model_alone_precision": alone.precision, "filter_fps": filter_fps,
           "model_alone_fps": alone_fps, "ratio": significant(filter_fps / alone_fps) if alone_fps else None,
           "model_alone": alone.what}
    del alone
    free_memory()
    return row, timing.fps


def calibrate(model: Path, sizes: list[tuple[int, int]], frames: int) -> tuple[list[dict[str, Any]], str | None]:
    """Every backend here at every size, filter and model alone; where onnxruntime's CUDA provider and the torch
    backend are both here, the fastest through the filter is recorded per size. Returns the rows and the line
    that says why nothing was recorded (None when it was)."""
    from kizunasr_vs.inference.backend_choice import choices_path, record
    from kizunasr_vs.inference.ort_session import load_model

    backends, note = calibration_backends()
    if note:
        print(note, file=sys.stderr)
    sha = load_model(str(model)).sha256
    rows = []
    for width, height in sizes:
        measured = [calibration_row(model, backend, width, height, frames) for backend in backends]
        best = record(sha, width, height, {str(r["provider"]): fps for r, fps in measured}) if note is None else None
        for r, _ in measured:
            r["recorded"] = r["provider"] == best
            rows.append(r)
        if best is not None:
            print(f"{model.name} {width}x{height}: auto will use {best} ({choices_path()})", file=sys.stderr)
    return rows, note


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as text: both figures side by side, their ratio and the precision that ran."""
    lines = ["filter: kizunasr_vs.onnx through VapourSynth, YUV420P8 -> P10; model alone: the same network on one "
             "frame already on its device (no host copies, no YUV conversion); ratio = filter fps / model alone fps",
             f"{'backend':<13} {'size':>10} {'precision':>9} {'filter fps':>10} {'model alone fps':>15} "
             f"{'ratio':>8}  auto"]
    for r in rows:
        precision = r["precision"] if r["precision"] == r["model_alone_precision"] else \
            f"{r['precision']}/{r['model_alone_precision']}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
        lines.append(f"{r['provider']:<13} {r['size']:>10} {precision:>9} {r['filter_fps']:>10.2f} "
                     f"{r['model_alone_fps']:>15.2f} {ratio:>8}  {'recorded' if r['recorded'] else ''}".rstrip())
    return "\n".join(lines)


def run_calibrate(model: Path, sizes: list[tuple[int, int]], frames: int, as_json: bool) -> int:
    """``--calibrate``: measure, record where it can, print the table or JSON."""
    rows, note = calibrate(model, sizes, frames)
    print(json.dumps({"results": rows, "recorded": note is None, "note": note}, indent=2) if as_json
          else table(rows))
    return 0
