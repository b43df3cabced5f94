"""On the GPU machine: how the shader path scales with interleaved vs-placebo instances, 1080p -> 2160p.

Usage: python bench/device_shader_instances.py [--frames 96] [--counts 2 4 6 8] [--shader PATH] [--size WxH]
       [--heap-counts N ...] [--direct-streams N ...] [--plumbing] [--out F.json]

Each count runs in its own subprocess (a vs-placebo crash shows as a return code, not a lost run):
``count`` branches of ``placebo.Shader`` on interleaved frames (``SelectEvery`` + ``Interleave``, what
``kizunasr_vs.shader(instances=N)`` builds), fps over ``--frames`` frames after warm-up frames. Count 1 is
vs-placebo alone, the baseline; it runs first and once more at the end to show drift. Each run also hashes
its first 8 output frames, so every count's output can be checked identical to the baseline's, and reports
the CPU cores the process kept busy. ``--heap-counts`` runs counts again with glibc's malloc kept off mmap
(vs-placebo allocates a frame-sized buffer per frame); ``--plumbing`` puts a CPU resize in vs-placebo's place.
``--direct-streams`` runs our own renderer (``placebo_direct``) with that many frames in flight instead;
those runs also report ms per frame in each stage (``profile_ms_per_frame``, ``placebo_direct.stage_timing``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

from common import PASSTHROUGH_2X, WARM_FRAMES, noise_clip, time_clip

HASHED_FRAMES = 8


def keep_heap() -> None:
    """glibc malloc: no mmap for big blocks, no trimming (what vs-placebo's per-frame 50 MB buffer meets)."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-4, 0)  # M_MMAP_MAX
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD


def child(count: int, frames: int, shader: str | None, size: tuple[int, int], heap: bool,
          plumbing: bool = False, direct: bool = False) -> dict[str, object]:
    import os

    import numpy as np
    import vapoursynth as vs

    from kizunasr_vs.render import placebo_direct
    from kizunasr_vs.render.source import ShaderSource, infer_output_size

    if heap:
        keep_heap()
    text = Path(shader).read_text() if shader else PASSTHROUGH_2X
    src = noise_clip(*size, frames + WARM_FRAMES, vs.YUV444P16)
    src = vs.core.std.SetFrameProps(src, _Range=0)  # limited: what Colors(..., levels=1) tells our renderer
    out_w, out_h = infer_output_size(ShaderSource("bench", text), *size)

    def render(clip: vs.VideoNode) -> vs.VideoNode:
        if plumbing:  # the same frames and sizes with a CPU resize instead of vs-placebo
            return clip.resize.Point(out_w, out_h)
        return vs.core.placebo.Shader(clip, shader_s=text, width=out_w, height=out_h, matrix=2)

    stages = None
    if direct:
        with placebo_direct.stage_timing() as stages:
            out = placebo_direct.render(src, text, out_w, out_h, placebo_direct.Colors(2, 1, 1), streams=count)
    elif count == 1:
        out = render(src)
    else:
        out = vs.core.std.Interleave([render(src.std.SelectEvery(count, i)) for i in range(count)])
    digest = hashlib.sha256()
    for frame in out[:HASHED_FRAMES].frames(close=True):
        for p in range(frame.format.num_planes):
            digest.update(np.asarray(frame[p]).tobytes())
    cpu, wall = sum(os.times()[:2]), time.perf_counter()
    fps = time_clip(out)
    cores = (sum(os.times()[:2]) - cpu) / (time.perf_counter() - wall)
    profile = {k: round(v, 2) for k, v in stages.ms_per_frame().items()} if stages is not None else {}
    return {"profile_ms_per_frame": profile, "count": count, "heap": heap, "plumbing": plumbing, "direct": direct,
            "size": f"{size[0]}x{size[1]}->{out_w}x{out_h}",
            "fps": fps, "cpu_cores_busy": round(cores, 2), "sha256_first_frames": digest.hexdigest(),
            "vs_threads": vs.core.num_threads}


def run_count(count: int, args: argparse.Namespace, heap: bool = False, direct: bool = False) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", str(count), "--frames", str(args.frames), "--size", args.size]
    if heap:
        cmd.append("--heap")
    if direct:
        cmd.append("--direct")
    if args.plumbing:
        cmd.append("--plumbing")
    if args.shader:
        cmd += ["--shader", args.shader]
    start = time.perf_counter()
    result = run_json_child(cmd, args.timeout)
    if "rc" in result:
        return {"count": count, "direct": direct} | result
    result["wall_s"] = round(time.perf_counter() - start, 1)
    return result


def run_json_child(cmd: list[str], timeout: int) -> dict[str, object]:
    """The last JSON line a child process printed; if it failed or printed none, its return code and the
    tail of its stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"rc": proc.returncode, "stderr_tail": proc.stderr[-1500:]}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--counts", type=int, nargs="*", default=[2, 3, 4, 6, 8])
    p.add_argument("--shader")
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--out")
    p.add_argument("--heap-counts", type=int, nargs="*", default=[],
                   help="counts to run again with keep_heap() (malloc tuned) in the child")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--heap", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--direct-streams", type=int, nargs="*", default=[],
                   help="frames in flight for runs of our own renderer (placebo_direct)")
    p.add_argument("--plumbing", action="store_true", help="a CPU resize instead of vs-placebo (the frame plumbing)")
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.child:
        print(json.dumps(child(args.child, args.frames, args.shader, size, args.heap, args.plumbing,
                               args.direct)))  # type: ignore[arg-type]
        return
    results = [run_count(1, args)]
    results += [run_count(n, args) for n in args.counts]
    results += [run_count(n, args, heap=True) for n in args.heap_counts]
    results += [run_count(n, args, direct=True) for n in args.direct_streams]
    results.append(run_count(1, args) | {"note": "baseline again"})
    base = [float(r["fps"]) for r in results  # type: ignore[arg-type]
            if r.get("count") == 1 and not r.get("heap") and not r.get("direct") and "fps" in r]
    base_fps = sum(base) / len(base) if base else None
    ref = results[0].get("sha256_first_frames")
    for r in results:
        if base_fps and "fps" in r:
            r["ratio"] = round(float(r["fps"]) / base_fps, 2)  # type: ignore[arg-type]
            r["same_output"] = r["sha256_first_frames"] == ref
        print(json.dumps(r), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
