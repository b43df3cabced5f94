"""On the GPU machine: where a torch-backend frame's time goes, 1080p YUV420P8 -> 2160p YUV420P10, fps of:

* ``graph replay``: the workers' CUDA graphs replayed back to back on their streams (GPU work only);
* ``run_planes, T threads``: TorchRunner.run_planes called from T Python threads on numpy planes (host
  copies, uploads, graph, downloads; no VapourSynth);
* ``filter``: kizunasr_vs.onnx(backend="torch") through VapourSynth (what `kizunasr bench` times).

Usage: python bench/device_torch_parts.py MODEL.onnx [--frames 96] [--streams 4] [--compile]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import onnx
import torch
import vapoursynth as vs
from common import WARM_FRAMES, time_clip

import kizunasr_vs as kz
from kizunasr_vs.inference.torch_backend import TorchRunner
from kizunasr_vs.inference.yuv_io import YuvLayout

W, H = 1920, 1080


def replay_fps(runner: TorchRunner, frames: int, streams: int) -> float:
    workers = [runner._workers.get() for _ in range(streams)]
    torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(frames):
        w = workers[i % len(workers)]
        with torch.cuda.stream(w.stream):
            w.graph.replay()
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    for w in workers:
        runner._workers.put(w)
    return frames / elapsed


def threads_fps(runner: TorchRunner, frames: int, threads: int) -> float:
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (H, W), np.uint8)] + [rng.integers(0, 256, (H // 2, W // 2), np.uint8)] * 2
    per_thread = frames // threads

    def work() -> None:
        outs = [np.empty((2 * H, 2 * W), np.uint16)] + [np.empty((H, W), np.uint16) for _ in range(2)]
        for _ in range(per_thread):
            runner.run_planes(planes, outs)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return per_thread * threads / (time.perf_counter() - start)


def filter_fps(model: str, frames: int, streams: int) -> float:
    clip = vs.core.std.BlankClip(format=vs.YUV420P8, width=W, height=H, length=frames + WARM_FRAMES,
                                 color=[90, 120, 140])
    clip = vs.core.std.SetFrameProps(clip, _Matrix=1, _Range=0, _ChromaLocation=0)
    return time_clip(kz.onnx(clip, model, backend=kz.Torch(streams=streams), output_format=vs.YUV420P10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--compile", action="store_true", help="through torch.compile")
    args = parser.parse_args()
    layout = YuvLayout(1, 0, 0, 1, 1, 8, 10)
    runner = TorchRunner(onnx.load(args.model), 3, H, W, streams=args.streams, layout=layout,
                         compile_model=args.compile)
    for streams in sorted({1, args.streams}):
        replay_fps(runner, 24, streams)
        print(f"graph replay, {streams} streams: {replay_fps(runner, args.frames, streams):.1f} fps", flush=True)
    for threads in sorted({1, 2, args.streams, 2 * args.streams}):
        threads_fps(runner, 2 * threads, threads)
        print(f"run_planes, {threads} threads: {threads_fps(runner, args.frames, threads):.1f} fps", flush=True)
    del runner
    fps = filter_fps(args.model, args.frames, args.streams)
    print(f"filter (VapourSynth, {vs.core.num_threads} threads): {fps:.1f} fps")


if __name__ == "__main__":
    main()
