"""On the GPU machine: where the onnx filter loses time against a bare session. One fp16 model at 1080p,
N threads each with its own CUDA EP session on the filter's per-plane graph, input and output bound to
(a) device buffers (the raw baseline) or (b) pageable host memory (what binding VapourSynth frame memory
does). Prints fps per mode and thread count.

Usage: python bench/device_copy_modes.py MODEL.onnx [FRAMES]
"""

from __future__ import annotations

import sys
import threading
import time

import common  # noqa: F401 - puts this checkout on sys.path first
import numpy as np
import onnx
import onnxruntime as ort

from kizunasr_vs.inference.fp16 import convert_float_to_float16, is_float16
from kizunasr_vs.inference.ort_session import choose_providers, provider_options
from kizunasr_vs.inference.plane_io import split_plane_io


def session(data: bytes) -> ort.InferenceSession:
    specs = provider_options(choose_providers("cuda"), "probe", True)
    return ort.InferenceSession(data, providers=[n for n, _ in specs], provider_options=[o for _, o in specs])


def binding_for(s: ort.InferenceSession, mode: str, x: np.ndarray, out_shape: tuple[int, ...]) -> ort.IOBinding:
    """Per-plane inputs and outputs (the filter's graph, see plane_io) bound in ``mode``."""
    b = s.io_binding()
    keep = []
    for i, name in enumerate(v.name for v in s.get_inputs()):
        plane = np.ascontiguousarray(x[:, i:i + 1])
        if mode == "device":
            b.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(plane, "cuda", 0))
        else:
            b.bind_input(name, "cpu", 0, np.float16, list(plane.shape), plane.ctypes.data)
            keep.append(plane)
    shape = [1, 1, *out_shape[2:]]
    for name in (v.name for v in s.get_outputs()):
        if mode == "device":
            b.bind_output(name, "cuda")
        else:
            out = np.empty(shape, np.float16)
            b.bind_output(name, "cpu", 0, np.float16, shape, out.ctypes.data)
            keep.append(out)
    b.keep = keep  # type: ignore[attr-defined]
    return b


def main() -> None:
    path, frames = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 64
    proto = onnx.load(path)
    if not is_float16(proto):
        proto = convert_float_to_float16(proto, keep_io_types=False)
    data = split_plane_io(proto, 3).SerializeToString()
    x = np.random.default_rng(0).random((1, 3, 1080, 1920), dtype=np.float32).astype(np.float16)
    out_shape = (1, 3, 2160, 3840)
    sessions = [session(data) for _ in range(4)]
    for mode in ("device", "pageable"):
        for threads in (1, 2, 4):
            bindings = [binding_for(sessions[i], mode, x, out_shape) for i in range(threads)]
            for i in range(threads):
                sessions[i].run_with_iobinding(bindings[i])
                sessions[i].run_with_iobinding(bindings[i])
            per = frames // threads

            def work(i: int, per: int = per, bindings: list[ort.IOBinding] = bindings) -> None:
                for _ in range(per):
                    sessions[i].run_with_iobinding(bindings[i])

            workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
            start = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            fps = per * threads / (time.perf_counter() - start)
            print(f"{mode:<9} threads={threads}: {fps:7.1f} fps", flush=True)


if __name__ == "__main__":
    main()
