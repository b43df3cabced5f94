"""`kizunasr train [FRAMES_DIR] --tier s|m|l|vl|ul|FxB[c][d] -o DIR`: train small 2x luma networks, export them.

Training pairs are made on the fly from the images in FRAMES_DIR (your own frames: PNG/JPEG screenshots of what you
watch) and from drawn cel pictures (``--drawn``; with no FRAMES_DIR, drawn pictures only). Several ``--tier``s
train together on the same batches. The run folder keeps a checkpoint per tier every 1000 steps: the same command
again continues where it stopped. At the end it writes ``kizuna_cnn_x2_<tier>.onnx``, ``.glsl`` (hooks LUMA)
and ``.json`` (the recipe) per tier, and checks each shader against its ONNX model (>= 45 dB) when VapourSynth
and vs-placebo can run. Needs PyTorch: ``pip install 'kizunasr[torch]'`` (a GPU helps a lot).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kizunasr_vs.core.errors import InputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a small 2x shader network on your frames (needs PyTorch)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("frames", nargs="?", type=Path, help="folder of training images (default: drawn pictures only)")
    p.add_argument("--tier", type=_tier, action="append",
                   help="network size: a built-in tier's name (s, m, l, vl, ul) or a shape FxB (F features, B hidden "
                        "convolutions, e.g. 8x3; then c: CReLU, d: a dense tail, e.g. 8x3cd); default m; repeat to "
                        "train several together on the same batches")
    p.add_argument("-o", "--out", type=Path, required=True, help="run folder: checkpoint, ONNX and GLSL")
    p.add_argument("--steps", type=int, default=30000, help="training steps (default 30000)")
    p.add_argument("--batch", type=int, default=64, help="patches per step (default 64)")
    p.add_argument("--drawn", type=float, default=0.3, help="share of drawn cel pictures (default 0.3)")
    p.add_argument("--init", type=Path, metavar="RUN_DIR|ONNX",
                   help="start from the networks of another run, or from an exported network (a shipped shader's "
                        "kizunasr_vs/train/weights/*.onnx): fine-tuning, e.g. on your own frames")
    p.add_argument("--patch", type=int, default=48, help="low-resolution patch side (default 48)")
    p.add_argument("--jpeg", type=float, default=0.2, help="share of inputs JPEG-compressed (default 0.2)")
    p.add_argument("--h264", type=float, default=0.0,
                   help="share of inputs coded by x264 as intra frames at CRF 18-30, after any JPEG: the artefacts of "
                        "video sources (default 0; needs ffmpeg with libx264)")
    p.add_argument("--blur", type=float, default=0.1, help="share of inputs blurred before reduction (default 0.1)")
    p.add_argument("--soft", type=float, default=0.3,
                   help="share of targets made soft like upscaled productions (default 0.3)")
    p.add_argument("--grain", type=float, default=0.0,
                   help="share of patches given film grain and TV scanlines (default 0)")
    p.add_argument("--crisp", type=float, default=0.0,
                   help="share of drawn pictures that are crisp 1-2 pixel line art (default 0)")
    p.add_argument("--filters",
                   help="comma-separated reductions the inputs are made with, one drawn per patch (PIL, antialiased; "
                        "default: all of box, bilinear, bicubic, lanczos, hamming)")
    p.add_argument("--bank", type=int, default=0, metavar="N",
                   help="make N pairs once (all --workers) and draw every batch from them, turned at random: far "
                        "faster for tiny networks, whose steps outpace the making of pairs (default 0: fresh pairs)")
    p.add_argument("--balance-folders", action="store_true",
                   help="give each subfolder of FRAMES_DIR (and the images directly in it, together) an equal share "
                        "of the patches (default: each image an equal share)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 0.002)")
    p.add_argument("--workers", type=int, default=4, help="data-loader processes (default 4)")
    p.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu, cuda, cuda:1 ...")
    p.add_argument("--check-image", type=Path, help="image to check the GLSL against the ONNX on "
                                                     "(default: the first training image, else a drawn one)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("PyTorch is not installed; install it with: pip install 'kizunasr[torch]'") from None
    from kizunasr_vs.train.data import find_images, folder_weights
    from kizunasr_vs.train.degrade import ALL_FILTERS, checked_filters
    from kizunasr_vs.train.export import export_all
    from kizunasr_vs.train.loop import Recipe, train

    shares = (args.drawn, args.jpeg, args.h264, args.blur, args.soft, args.grain, args.crisp)
    if (args.steps < 1 or args.batch < 1 or args.patch < 8 or not all(0 <= v <= 1 for v in shares)
            or args.workers < 0 or args.bank < 0):
        raise InputError("--steps and --batch must be >= 1, --patch >= 8, --drawn/--jpeg/--h264/--blur/--soft/--grain/"
                         "--crisp in [0, 1], --workers and --bank >= 0")
    filters = (ALL_FILTERS if args.filters is None
               else tuple(name.strip() for name in args.filters.split(",") if name.strip()))
    checked_filters(filters, "--filters")
    if args.balance_folders and not args.frames:
        raise InputError("--balance-folders needs a FRAMES_DIR with subfolders to balance")
    images = find_images(args.frames) if args.frames else []
    tiers = list(dict.fromkeys(args.tier or ["m"]))
    recipe = Recipe(steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr, workers=args.workers,
                    drawn_fraction=1.0 if not images else args.drawn, blur_prob=args.blur, jpeg_prob=args.jpeg,
                    h264_prob=args.h264, soft_prob=args.soft, grain_prob=args.grain, crisp_fraction=args.crisp,
                    bank=args.bank, balance_folders=args.balance_folders, filters=filters)
    weights = folder_weights(images, args.frames) if args.balance_folders else None
    models = train(images, args.out, tiers, recipe, args.device, progress=sys.stderr.isatty(), init=args.init,
                   weights=weights)
    check = args.check_image or (images[0] if images else None)
    ok = True
    for tier, model in zip(tiers, models, strict=True):
        report = export_all(model, args.out, f"kizuna_cnn_x2_{tier}", tier, recipe, check)
        print(report.summary())
        ok = ok and report.ok
    return 0 if ok else 2  # (a report said what did not match)


def _tier(spec: str) -> str:
    """argparse type: a tier name or shape that ``tiers.tier_of`` knows (checked without importing torch)."""
    from kizunasr_vs.train.tiers import tier_of

    try:
        tier_of(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec
