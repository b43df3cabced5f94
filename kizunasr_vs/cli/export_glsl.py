"""`kizunasr export-glsl MODEL -o OUT.glsl`: compile an ONNX conv net to an mpv user shader.

MODEL is an .onnx file or a model registry name (`kizunasr models list`). Only small
feed-forward conv nets compile (SRVGGNetCompact: AnimeJaNai Compact family, Real-ESRGAN compact);
anything else fails with the node and op that is not supported, and no file is written.
Use the result as `mpv --glsl-shaders=OUT.glsl` or with `kizunasr_vs.shader`.
"""

from __future__ import annotations

import argparse

from kizunasr_vs.cli import options
from kizunasr_vs.compiler.glsl import export_glsl
from kizunasr_vs.core.files import check_output
from kizunasr_vs.models.store import find_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-glsl", help="compile an ONNX model (file or registry name) to an mpv GLSL shader",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="ONNX model file, or a registry name (kizunasr models list)")
    options.add_output(p, "shader file to write", required=True)
    p.add_argument("-y", "--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--hook", choices=("MAIN", "LUMA"), default="MAIN", type=str.upper,
                   help="MAIN for RGB models (default), LUMA for 1-channel models")
    p.add_argument("--precision", choices=("fp16", "fp32"), default="fp32", type=str.lower,
                   help="constant precision (default fp32); fp16 also declares mediump temporaries")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = find_model(args.model)
    check_output(args.output, [model], args.overwrite)
    out = export_glsl(model, args.output, args.hook, args.precision)
    print(f"wrote {out} ({out.stat().st_size} bytes, hook {args.hook}, {args.precision})")
    return 0
