"""Where the time of compiled-ONNX GLSL goes on a real GPU (vs-placebo), variant by variant.

Usage: python bench/glsl_gpu_profile.py [--size 1920x1080] [--frames 20] [--models DIR] [--only NAME ...]

Each measurement runs in its own subprocess (one vs-placebo renderer, libplacebo errors on
stderr): ms/frame over ``--frames`` frames after a warm-up frame (which pays shader compiles),
minus the pass-through 2x shader's ms at the same size. Measurements:

* ``passthrough``: 1 fragment pass 2x (the baseline).
* ``alu-frag`` / ``alu-comp``: one 1x pass doing 4096 dependent FMAs per pixel, as a fragment
  and as a ``//!COMPUTE`` pass. On GPUs whose graphics (fragment) work runs on only a few SMs
  (NVIDIA H100: 2 graphics TPCs out of 66) the fragment one is many times slower.
* ``chainN``: N trivial compute passes (per-pass fixed cost).
* ``<model> frag|comp|tile|pack|packtile <precision>``: the compiler's old fragment passes, compute
  passes with texelFetch taps (the default before packing), compute passes with shared-memory tiles,
  and packed passes (one per stored value, channel groups side by side) with texelFetch or tiles.
* ``<model> pack <precision> xK``: K runs of the model in one render (see ``repeated``). The GPU time of
  one run is then (ms of xK - ms of x1) / (K - 1): the upload, download and serialisation that swamp the
  difference to the pass-through (about 75-100 ms a frame, drifting by +-9 ms) cancel out.
* ``SUC pack fp32 fragout`` / ``passthrough compute``: the output pass as a fragment pass, and the
  pass-through as a compute pass (does the kind of the 2160p output pass matter?).
* ``passthrough again``: the baseline once more at the end, to show drift within the run.

It also prints the mean of each output plane of frame 0, so variants of one model can be
checked against each other.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from common import REPO as ROOT

PASSTHROUGH = """//!HOOK MAIN
//!BIND HOOKED
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *
//!DESC pass-through 2x
vec4 hook() { return HOOKED_tex(HOOKED_pos); }
"""

_ALU_BODY = """    vec4 a = HOOKED_mul * texelFetch(HOOKED_raw, P, 0);
    vec4 b = vec4(1.0001, 0.9999, 1.0002, 0.9998);
    for (int i = 0; i < 1024; i++) { a = a * b + vec4(1e-7); b = b * a + vec4(-1e-7); }
"""


def alu_shader(compute: bool) -> str:
    if compute:
        return ("//!HOOK MAIN\n//!BIND HOOKED\n//!DESC alu compute\n//!COMPUTE 32 8\n"
                "void hook() {\n    ivec2 P = ivec2(gl_GlobalInvocationID.xy);\n"
                + _ALU_BODY + "    imageStore(out_image, P, a * 1e-9 + HOOKED_mul * texelFetch(HOOKED_raw, P, 0));\n}\n"
                + PASSTHROUGH)
    return ("//!HOOK MAIN\n//!BIND HOOKED\n//!DESC alu fragment\n"
            "vec4 hook() {\n    ivec2 P = ivec2(HOOKED_pos * HOOKED_size);\n"
            + _ALU_BODY + "    return a * 1e-9 + HOOKED_mul * texelFetch(HOOKED_raw, P, 0);\n}\n" + PASSTHROUGH)


def chain_shader(n: int) -> str:
    passes = []
    for i in range(n):
        src = "HOOKED" if i == 0 else f"c{i - 1}"
        bind = "//!BIND HOOKED\n" if i == 0 else f"//!BIND HOOKED\n//!BIND {src}\n"
        passes.append(f"//!HOOK MAIN\n{bind}//!SAVE c{i}\n//!COMPONENTS 4\n//!COMPUTE 32 8\n"
                      f"void hook() {{ ivec2 P = ivec2(gl_GlobalInvocationID.xy);\n"
                      f"  imageStore(out_image, P, texelFetch({src}_raw, P, 0) * 1.0001); }}\n")
    passes.append(f"//!HOOK MAIN\n//!BIND HOOKED\n//!BIND c{n - 1}\n//!WIDTH HOOKED.w 2 *\n//!HEIGHT HOOKED.h 2 *\n"
                  f"vec4 hook() {{ return c{n - 1}_tex(c{n - 1}_pos); }}\n")
    return "\n".join(passes)


def model_shader(model: Path, variant: str, precision: str) -> str:
    from kizunasr_vs.compiler.emit import Emitter
    from kizunasr_vs.compiler.graph import normalise

    em = Emitter(normalise(model), "MAIN", precision,  # type: ignore[arg-type]
                 compute=variant != "frag", tile="tile" in variant, pack="pack" in variant)
    return em.render()


PASSTHROUGH_COMPUTE = """//!HOOK MAIN
//!BIND HOOKED
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *
//!COMPUTE 32 8
//!DESC pass-through 2x, compute
void hook() {
    ivec2 P = ivec2(gl_GlobalInvocationID.xy);
    imageStore(out_image, P, HOOKED_mul * texelFetch(HOOKED_raw, P / 2, 0));
}
"""


def fragment_output(text: str) -> str:
    """The compiled model with its (compute) output pass rewritten as a fragment pass."""
    body, marker, output_pass = text.rpartition("//!DESC ")
    lines = [line for line in output_pass.splitlines() if not line.startswith("//!COMPUTE")]
    code = "\n".join(lines)
    code = code.replace("void hook() {", "vec4 hook() {")
    code = code.replace("ivec2(gl_GlobalInvocationID.xy)", "ivec2(gl_FragCoord.xy)")
    code = code.replace("    if (any(greaterThanEqual(P, imageSize(out_image))))\n        return;\n", "")
    code = re.sub(r"imageStore\(out_image, P, (.*)\);", r"return \1;", code)
    return body + marker + code + "\n"


def repeated(text: str, copies: int) -> str:
    """``copies`` runs of a compiled model in one render: ``copies - 1`` of them end in a 1x stand-in for the
    output pass (the next run hooks its result), the last one is the real model.

    Every run saves under the same texture names (libplacebo's saved textures are replaced by name) and
    has the same GLSL, so the pipelines compile once.
    """
    body, marker, output_pass = text.rpartition("//!DESC ")
    last_tensor = next(line.split()[1] for line in output_pass.splitlines()
                       if line.startswith("//!BIND") and line.split()[1] != "HOOKED")
    stand_in = (f"//!DESC 1x stand-in output\n//!HOOK MAIN\n//!BIND {last_tensor}\n//!BIND HOOKED\n"
                "//!COMPUTE 32 8\nvoid hook() {\n"
                "    ivec2 P = ivec2(gl_GlobalInvocationID.xy);\n"
                "    if (any(greaterThanEqual(P, imageSize(out_image))))\n        return;\n"
                f"    vec4 a = texelFetch({last_tensor}_raw, P * 2, 0);\n"
                "    vec4 h = HOOKED_mul * texelFetch(HOOKED_raw, P, 0);\n"
                "    imageStore(out_image, P, vec4(clamp(h.xyz + a.xyz, 0.0, 1.0), 1.0));\n}\n\n")
    return (body + stand_in) * (copies - 1) + text


def worker(shader_file: str, width: int, height: int, frames: int) -> None:
    import numpy as np
    import vapoursynth as vs

    core = vs.core
    text = Path(shader_file).read_text()
    blank = core.std.BlankClip(format=vs.YUV444P16, width=width, height=height, length=1)
    rng = np.random.default_rng(0)
    noise = [(rng.random((height, width)) * 40000 + 8000).astype(np.uint16) for _ in range(3)]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        f = f.copy()
        for p in range(3):
            np.asarray(f[p])[:] = noise[p]
        return f

    src = core.std.ModifyFrame(blank, blank, fill)
    src = core.std.SetFrameProps(src, _Range=0, _Matrix=1) * (frames + 1)
    out = core.placebo.Shader(src, shader_s=text.encode(), width=width * 2, height=height * 2, matrix=1,
                              log_level=2)
    t0 = time.perf_counter()
    f0 = out.get_frame(0)
    first = time.perf_counter() - t0
    means = [float(np.asarray(f0[p]).mean()) for p in range(3)]
    start = time.perf_counter()
    n = sum(1 for _ in out[1:].frames(close=True))
    ms = (time.perf_counter() - start) * 1000 / n
    print(json.dumps({"ms": ms, "first_s": first, "means": means}))


def measure(text: str, width: int, height: int, frames: int) -> dict:
    path = Path("/tmp") / f"kz_profile_{abs(hash(text))}.glsl"
    path.write_text(text)
    r = subprocess.run([sys.executable, __file__, "--worker", str(path), str(width), str(height), str(frames)],
                       capture_output=True, text=True, timeout=600)
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode or not lines:
        return {"error": (r.stderr or r.stdout)[-1500:]}
    res = json.loads(lines[-1])
    if r.stderr.strip():
        res["stderr"] = r.stderr.strip()[-800:]
    return res


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--models", type=Path, default=ROOT / ".devdata" / "models")
    ap.add_argument("--only", action="append", help="substring of measurement names to run (repeatable)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    suc = args.models / "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
    uc = args.models / "2x_AnimeJaNai_HD_V3_UltraCompact-fp32.onnx"
    plan: list[tuple[str, object, int]] = [
        ("passthrough", lambda: PASSTHROUGH, args.frames),
        ("alu-frag", lambda: alu_shader(False), args.frames),
        ("alu-comp", lambda: alu_shader(True), args.frames),
        ("chain16", lambda: chain_shader(16), args.frames),
        ("chain64", lambda: chain_shader(64), args.frames),
        ("SUC frag fp32", lambda: model_shader(suc, "frag", "fp32"), max(4, args.frames // 2)),
        ("SUC comp fp32", lambda: model_shader(suc, "comp", "fp32"), args.frames),
        ("SUC tile fp32", lambda: model_shader(suc, "tile", "fp32"), args.frames),
        ("SUC tile fp16", lambda: model_shader(suc, "tile", "fp16"), args.frames),
        ("UC comp fp32", lambda: model_shader(uc, "comp", "fp32"), args.frames),
        ("UC tile fp32", lambda: model_shader(uc, "tile", "fp32"), args.frames),
        ("SUC pack fp32", lambda: model_shader(suc, "pack", "fp32"), args.frames),
        ("SUC packtile fp32", lambda: model_shader(suc, "packtile", "fp32"), args.frames),
        ("UC pack fp32", lambda: model_shader(uc, "pack", "fp32"), args.frames),
        ("UC packtile fp32", lambda: model_shader(uc, "packtile", "fp32"), args.frames),
        ("SUC pack fp32 x4", lambda: repeated(model_shader(suc, "pack", "fp32"), 4), args.frames),
        ("SUC pack fp32 x8", lambda: repeated(model_shader(suc, "pack", "fp32"), 8), args.frames),
        ("SUC pack fp32 x16", lambda: repeated(model_shader(suc, "pack", "fp32"), 16), args.frames),
        ("SUC pack fp32 fragout", lambda: fragment_output(model_shader(suc, "pack", "fp32")), args.frames),
        ("passthrough compute", lambda: PASSTHROUGH_COMPUTE, args.frames),
        ("SUC pack fp16", lambda: model_shader(suc, "pack", "fp16"), args.frames),
        ("SUC pack fp16 x4", lambda: repeated(model_shader(suc, "pack", "fp16"), 4), args.frames),
        ("UC pack fp32 x4", lambda: repeated(model_shader(uc, "pack", "fp32"), 4), args.frames),
        ("passthrough again", lambda: PASSTHROUGH, args.frames),
    ]
    base = None
    measured: dict[str, float] = {}
    for name, make, frames in plan:
        if args.only and name != "passthrough" and not any(o in name for o in args.only):
            continue
        t = time.perf_counter()
        r = measure(make(), w, h, frames)  # type: ignore[operator]
        wall = time.perf_counter() - t
        if "error" in r:
            print(f"{name:<16} ERROR {r['error']}", flush=True)
            continue
        if base is None:
            base = r["ms"]
        means = " ".join(f"{m:8.1f}" for m in r["means"])
        print(f"{name:<16} {r['ms']:9.2f} ms  {r['ms'] - base:+9.2f} ms vs pass-through  "
              f"first frame {r['first_s']:6.2f} s  wall {wall:5.1f} s  means {means}", flush=True)
        measured[name] = r["ms"]
        single, _, copies = name.rpartition(" x")
        if copies.isdigit() and single in measured:
            per_run = (r["ms"] - measured[single]) / (int(copies) - 1)
            print(f"   GPU time of one run of {single}: {per_run:.2f} ms", flush=True)
        if "stderr" in r:
            print("   stderr:", r["stderr"].replace("\n", "\n   "), flush=True)


if __name__ == "__main__":
    main()
