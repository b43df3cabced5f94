"""`kizunasr bench`: fps of the shader and onnx filters next to their raw backends, in the same run.

Every figure comes with its baseline measured in the same process on the same frames:
the onnx filter against a bare onnxruntime session (IO binding), the shader filter
against ``core.placebo.Shader`` called directly, once per shader. Ratios are what to compare across machines.
``--calibrate`` times each backend through the filter next to that backend's model alone (bench_calibrate).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import vapoursynth as vs

from kizunasr_vs.cli import options
from kizunasr_vs.cli.bench_calibrate import run_calibrate
from kizunasr_vs.cli.bench_clips import PASSTHROUGH_2X, noise_clip
from kizunasr_vs.cli.bench_timing import WARM_FRAMES, time_calls, time_clip, time_onnx_filter
from kizunasr_vs.core.errors import InputError
from kizunasr_vs.core.resources import shader_path
from kizunasr_vs.profiles.encode_graph import default_model
from kizunasr_vs.render import placebo_direct
from kizunasr_vs.render.placebo import renderer_choice


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure filter fps next to raw onnxruntime / vs-placebo",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", action="append", type=options.size, help="input size WxH (repeatable; default 640x480)")
    p.add_argument("--frames", type=int, default=8, help="frames timed per measurement (default 8)")
    p.add_argument("--model", type=options.model,
                   help="registry name, file in the models folder, or .onnx path (default: the smallest found)")
    p.add_argument("--shader", action="append", type=options.shader_chain,
                   help="shader to time (built-in name or path); repeat for a chain (default: a pass-through 2x "
                        "hook)")
    options.add_provider(p)
    p.add_argument("--streams", type=int, action="append", help="onnx sessions in flight (repeatable)")
    p.add_argument("--no-cuda-graphs", dest="cuda_graphs", action="store_false",
                   help="torch and torch-compile replay no CUDA graphs (to measure what the graphs bring)")
    p.add_argument("--instances", type=int, action="append",
                   help="vs-placebo instances for the shader where our own renderer cannot run (repeatable)")
    p.add_argument("--yuv", action="store_true",
                   help="also time YUV420P8 -> YUV420P10 (an encode), colour conversion on the GPU vs zimg")
    p.add_argument("--skip", choices=["onnx", "shader"], action="append", default=[], help="skip a part")
    p.add_argument("--calibrate", action="store_true",
                   help="time onnxruntime CUDA, torch and torch-compile for --model at each --size through the "
                        "filter (YUV420P8 -> P10, converted on the GPU) next to the model alone on the GPU, and "
                        "record the fastest filter for backend='auto' on this machine (where onnxruntime's own "
                        "choice is CUDA and PyTorch sees a GPU); otherwise it times what there is (without CUDA: "
                        "onnxruntime's CPU provider) and records nothing")
    p.add_argument("--fidelity", type=Path, metavar="DIR",
                   help="instead of speed: luma PSNR/SSIM of lanczos, each --shader (comma-separated files make "
                        "one chain) and each --profile's realtime chain on the images in DIR, reduced 2x, clean "
                        "and H.264-compressed")
    p.add_argument("--profile", action="append", default=[], help="with --fidelity: a profile to score")
    p.add_argument("--reduction", default="catmull-rom", metavar="FILTER",
                   help="with --fidelity: how the images are reduced 2x: catmull-rom (default, zimg), or PIL's "
                        "box, bilinear, bicubic, lanczos or hamming (antialiased; what kizunasr train --filters "
                        "draws from)")
    p.add_argument("--gpu-cost", action="store_true",
                   help="instead of fps: GPU ms per frame of each --shader at each --size from libplacebo's GPU "
                        "timers, next to a pass-through (run it on the GPU in question)")
    p.add_argument("--macs", nargs="+", type=options.shader, metavar="SHADER",
                   help="instead of timing: multiply-adds per source pixel of each shader (built-in name or path), "
                        "counted from its passes' compiled code; no GPU needed (at the first --size, default "
                        "1920x1080)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="with --gpu-cost: measure the list N times, alternating the order; median and minimum "
                        "(the GPU's clocks follow its load: one round can mislead)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def bench_onnx(model: Path, provider: str, width: int, height: int, frames: int, streams: int | None = None,
               yuv_io: bool | None = None, rounds: int = 1, cuda_graphs: bool = True) -> dict[str, object]:
    """The onnx filter on RGBS frames, or with ``yuv_io`` set on YUV420P8 in, YUV420P10 out (an encode's
    formats) with the colour conversion in the session (True) or by zimg on the CPU (False), against a bare
    onnxruntime session of the model (inference/model_alone.py; CUDA for the torch backend)."""
    from kizunasr_vs.inference.backends import Backend, Torch
    from kizunasr_vs.inference.model_alone import onnxruntime_alone
    from kizunasr_vs.inference.onnx_filter import backend_for
    from kizunasr_vs.inference.ort_session import choose_providers, is_gpu, load_model
    from kizunasr_vs.inference.runner_cache import free_memory
    from kizunasr_vs.inference.torch_backend import TORCH_COMPILED, TORCH_PROVIDERS

    label = f"onnx {model.name}" + (f" streams={streams}" if streams else "")
    backend: str | Backend = provider
    if provider in TORCH_PROVIDERS and not cuda_graphs:
        backend, streams = Torch(compile=provider == TORCH_COMPILED, cuda_graphs=False, streams=streams), None
        label += " no-cuda-graphs"
    timing = time_onnx_filter(model, backend, width, height, frames, yuv=yuv_io is not None, yuv_io=yuv_io,
                              streams=streams, rounds=rounds)
    raw_provider = "cuda" if provider.startswith("torch") else provider
    raw = onnxruntime_alone(load_model(str(model)), raw_provider, width, height,
                            fp16=is_gpu(choose_providers(raw_provider)))
    raw_fps = time_calls(raw.run, frames)
    del raw
    free_memory()
    if yuv_io is not None:
        label += " yuv420p8->p10 " + ("in-graph" if yuv_io else "zimg")
    chosen = backend_for(str(model), width, height, provider)
    return {"what": label, "size": f"{width}x{height}", "provider": provider, "chosen": chosen,
            "precision": timing.precision, "filter_fps": timing.fps, "baseline": "raw onnxruntime session",
            "baseline_fps": raw_fps, "ratio": timing.fps / raw_fps}


def placebo_alone(clip: vs.VideoNode, texts: list[str]) -> vs.VideoNode:
    """vs-placebo alone, the shader baseline: one ``placebo.Shader`` per shader, each at the size it makes
    (BT.709, libplacebo's matrix 2, like the noise clips)."""
    from kizunasr_vs.render.source import ShaderSource, infer_output_size

    for text in texts:
        w, h = infer_output_size(ShaderSource("bench", text), clip.width, clip.height)
        clip = vs.core.placebo.Shader(clip, shader_s=text.encode(), width=w, height=h, matrix=2)
    return clip


def bench_shader(shaders: list[str] | None, width: int, height: int, frames: int,
                 instances: int = 1) -> dict[str, object]:
    """``kizunasr_vs.shader`` on a list of shaders (default: a pass-through 2x) against vs-placebo alone: one
    ``placebo.Shader`` per shader. Each is timed and dropped before the next is built (too many live vs-placebo
    filters in one process crash it)."""
    import kizunasr_vs

    texts = [shader_path(s).read_text() for s in shaders] if shaders else [PASSTHROUGH_2X]
    src = noise_clip(width, height, frames + WARM_FRAMES, vs.YUV444P16)
    direct = placebo_alone(src, texts)
    direct_fps = time_clip(direct)
    del direct
    ours_fps = time_clip(kizunasr_vs.shader(src, texts, instances=instances))
    name = " + ".join(Path(s).name for s in shaders) if shaders else "pass-through 2x"
    renderer, why = renderer_choice()
    runs_on = (f"direct streams={placebo_direct.DEFAULT_STREAMS}" if renderer == "direct"
               else f"vs-placebo instances={instances}")
    return {"what": f"shader {name}", "size": f"{width}x{height}",
            "provider": runs_on, "renderer_why": why, "filter_fps": ours_fps, "baseline": "placebo.Shader per shader",
            "baseline_fps": direct_fps, "ratio": ours_fps / direct_fps}


def run_fidelity(args: argparse.Namespace) -> int:
    from kizunasr_vs.cli.fidelity import run_fidelity

    scores, text = run_fidelity(args.fidelity, args.shader or [], args.profile, args.reduction)
    print(json.dumps({"fidelity": [asdict(s) for s in scores]}, indent=2) if args.json else text)
    return 0


def run_macs(args: argparse.Namespace) -> int:
    """``--macs``: multiply-adds per source pixel of each shader, as a table or JSON (every pass)."""
    from kizunasr_vs.render import macs

    width, height = (args.size or [macs.DEFAULT_SIZE])[0]
    costs = [macs.count_shader(str(path), width, height) for path in args.macs]
    if args.json:
        print(json.dumps([{"shader": c.name, "macs": c.macs, "kind": c.kind, "lower_bound": c.lower_bound,
                           "source_size": f"{width}x{height}", "passes": [asdict(p) for p in c.passes]}
                          for c in costs], indent=2))
        return 0
    print(f"Multiply-adds per source pixel ({width}x{height} source, 4:4:4), counted from each pass's compiled "
          "code: what predicts the cost on a consumer GPU, whatever the kind of pass\n")
    print("| shader | passes | kind | multiply-adds per source pixel |\n|---|---|---|---|")
    for c in costs:
        print(f"| {Path(c.name).stem} | {len(c.passes)} | {c.kind} | {c.label()} |")
    if any(c.lower_bound for c in costs):
        print("\n>= : a loop without a constant trip count was counted once")
    return 0


def run_gpu_cost(args: argparse.Namespace, sizes: list[tuple[int, int]], shaders: list[str]) -> int:
    from kizunasr_vs.cli import gpu_cost

    if not shaders:
        raise InputError("--gpu-cost needs at least one --shader")
    if args.repeat < 1:
        raise InputError(f"--repeat must be >= 1, not {args.repeat}")
    from kizunasr_vs.core.hardware import vulkan_device

    device = vulkan_device()
    measured = {}
    for w, h in sizes:
        costs = gpu_cost.measure(shaders, w, h, args.frames, args.repeat)
        measured[f"{w}x{h}"] = (costs, gpu_cost.counts(costs, shaders, w, h))
    if args.json:
        print(json.dumps({"device": {"name": device.name, "software": device.software,
                                     "hopper": bool(device.name and gpu_cost.HOPPER.search(device.name))},
                          **{size: gpu_cost.rows(costs, counted) for size, (costs, counted) in measured.items()}},
                         indent=2))
    else:
        print("\n".join(gpu_cost.device_lines(device)) + "\n")
        print("\n\n".join(gpu_cost.table(costs, size, counted, cpu=device.software)
                           for size, (costs, counted) in measured.items()))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.repeat != 1 and not args.gpu_cost:
        raise InputError("--repeat goes with --gpu-cost")
    if args.reduction != "catmull-rom" and args.fidelity is None:
        raise InputError("--reduction goes with --fidelity DIR")
    if args.macs is not None:
        if args.gpu_cost or args.fidelity is not None or args.calibrate:
            raise InputError("--macs counts instead of timing; --gpu-cost shows the count next to its timings")
        return run_macs(args)
    if args.fidelity is not None:
        return run_fidelity(args)
    sizes = args.size or [(640, 480)]
    shaders = [part for spec in args.shader or [] for part in spec.split(",")]  # outside --fidelity: one list
    if args.gpu_cost:
        return run_gpu_cost(args, sizes, shaders)
    model = args.model or default_model()
    if args.calibrate:
        if model is None:
            raise InputError("--calibrate needs --model")
        return run_calibrate(model, sizes, args.frames, args.json)
    results = []
    for width, height in sizes:
        if "onnx" not in args.skip:
            if model is None:
                print("kizunasr bench: no model: pass --model or set KIZUNASR_MODELS_DIR; skipping onnx",
                      file=sys.stderr)
            else:
                for streams in args.streams or [None]:
                    for yuv_io in ([None, True, False] if args.yuv else [None]):
                        results.append(bench_onnx(model, args.provider, width, height, args.frames, streams,
                                                  yuv_io, cuda_graphs=args.cuda_graphs))
        if "shader" not in args.skip:
            for instances in args.instances or [1]:
                results.append(bench_shader(shaders, width, height, args.frames, instances))
    if args.json:
        print(json.dumps({"results": results, "vs_threads": vs.core.num_threads}, indent=2))
        return 0
    for why in dict.fromkeys(str(r["renderer_why"]) for r in results if "renderer_why" in r):
        print(f"shader renderer: {why}")
    print(f"{'what':<72} {'size':>10} {'runs on':>27} {'fps':>8} {'baseline fps':>13} {'ratio':>6}  baseline")
    for r in results:
        runs_on = f"{r['chosen']} {r['precision']}" if "chosen" in r else r["provider"]
        print(f"{r['what']:<72} {r['size']:>10} {runs_on:>27} {r['filter_fps']:>8.2f} "
              f"{r['baseline_fps']:>13.2f} {r['ratio']:>6.2f}  {r['baseline']}")
    return 0
