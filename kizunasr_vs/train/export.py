"""Export a trained network: ONNX (opset 13, any frame size), then GLSL through the compiler.

The GLSL is checked against the ONNX on a real picture (``glsl_vs_onnx_psnr``): onnxruntime runs the ONNX,
``kizunasr_vs.shader`` (libplacebo) runs the shader, and the two outputs must agree to ``MIN_GLSL_PSNR`` dB.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from kizunasr_vs.compiler.glsl import compile_onnx_to_glsl
from kizunasr_vs.core.errors import InputError
from kizunasr_vs.core.files import write_atomic
from kizunasr_vs.core.metrics import psnr
from kizunasr_vs.train.arch import LumaNet
from kizunasr_vs.train.loop import Recipe
from kizunasr_vs.train.tiers import Tier

MIN_GLSL_PSNR = 45.0


def to_onnx(model: torch.nn.Module, path: Path) -> Path:
    """Write ``model`` (1 x 1 x H x W in, 1 x 1 x 2H x 2W out) as ONNX with dynamic H and W."""
    model = model.eval().float().cpu()
    example = torch.rand(1, 1, 32, 32)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: its output is what we want
        staged = Path(tmp) / "model.onnx"
        torch.onnx.export(model, (example,), str(staged), input_names=["input"], output_names=["output"],
                          opset_version=13, dynamo=False,
                          dynamic_axes={"input": {2: "height", 3: "width"}, "output": {2: "height2", 3: "width2"}})
        return write_atomic(path, staged.read_bytes())


def network_from_onnx(path: Path) -> LumaNet:
    """The network an exported ONNX file holds (``to_onnx``'s output), with its weights. The shape is read from
    the convolutions in graph order (the first reads 1 channel, the tail F + 1, a dense tier's mix is the 1x1
    one); names are followed through the Identity nodes the exporter puts on shared constants."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}

    def value(name: str) -> np.ndarray:
        while name in alias:
            name = alias[name]
        return values[name]

    convs = [(value(n.input[1]), value(n.input[2]) if len(n.input) > 2 else None)
             for n in graph.node if n.op_type == "Conv"]
    first = convs[0][0] if convs else None
    if first is None or first.shape[1] != 1:
        raise InputError(f"{path} is not a network exported by kizunasr train (no 1-channel first convolution)")
    features = int(first.shape[0])
    tail = [c for c in convs if c[0].shape[:2] == (4, features + 1)]
    mix = [c for c in convs if c[0].shape[2] == 1]
    hidden = [c for c in convs if c[0].shape[2] == 3 and c[0].shape[:2] != (4, features + 1)]
    if len(tail) != 1 or len(mix) > 1:
        raise InputError(f"{path} is not a network exported by kizunasr train (its tail is not one convolution)")
    net = LumaNet(Tier(path.stem, features, len(hidden) - 1, dense=bool(mix)))
    slopes = [value(n.input[1]) for n in graph.node if n.op_type == "PRelu"]
    state: dict[str, torch.Tensor] = {}
    named = [*((f"convs.{i}", c) for i, c in enumerate(hidden)), ("tail", tail[0]), *(("mix", c) for c in mix)]
    for name, (weight, bias) in named:
        state[f"{name}.weight"] = torch.from_numpy(weight.copy())
        state[f"{name}.bias"] = torch.from_numpy(np.zeros(weight.shape[0], np.float32) if bias is None
                                                 else bias.copy())
    state.update({f"acts.{i}.weight": torch.from_numpy(v.reshape(-1).copy()) for i, v in enumerate(slopes)})
    net.load_state_dict(state)
    return net.eval()


# Like mpv's own scalers, upscale only when the picture is shown at least 1.2x larger (4K on a 4K screen: no work).
WHEN_ENLARGED = "//!WHEN OUTPUT.w LUMA.w / 1.200 > OUTPUT.h LUMA.h / 1.200 > *"


def to_glsl(onnx_path: Path, glsl_path: Path, note: str = "") -> Path:
    """Compile the exported ONNX into an mpv user shader hooking LUMA, every pass conditional on the picture
    being enlarged (``WHEN_ENLARGED``), ``note`` as a comment on top."""
    text = compile_onnx_to_glsl(onnx_path, "LUMA", "fp32")
    text = text.replace("//!HOOK LUMA\n", f"//!HOOK LUMA\n{WHEN_ENLARGED}\n")
    header = "".join(f"// {line}\n" for line in note.splitlines())
    return write_atomic(glsl_path, header + text)


def run_onnx(onnx_path: Path, y: np.ndarray) -> np.ndarray:
    """The ONNX model on a luma image (H x W, [0, 1]) through onnxruntime's CPU provider."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": y[None, None].astype(np.float32)})[0]
    return np.asarray(out)[0, 0]


def run_glsl(glsl_path: Path, y: np.ndarray) -> np.ndarray:
    """The shader on a luma image (H x W, [0, 1]) through ``kizunasr_vs.shader``: a GRAY clip in, luma out."""
    import vapoursynth as vs

    from kizunasr_vs.core.formats import RANGE_FULL
    from kizunasr_vs.render.placebo import shader

    core = vs.core
    h, w = y.shape
    blank = core.std.BlankClip(format=vs.GRAYS, width=w, height=h, length=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        np.copyto(np.asarray(out[0]), y.astype(np.float32))
        return out

    clip = core.std.ModifyFrame(blank, blank, fill)
    clip = core.resize.Point(clip, format=vs.YUV444P16, range=1, range_in=1)
    clip = core.std.SetFrameProps(clip, _Range=RANGE_FULL, _Matrix=1, _Primaries=1, _Transfer=1)
    out = core.resize.Point(shader(clip, [str(glsl_path)]), format=vs.GRAYS, range_in=1, range=1)
    return np.array(out.get_frame(0)[0], dtype=np.float32)


def glsl_vs_onnx_psnr(onnx_path: Path, glsl_path: Path, y: np.ndarray) -> float:
    """How closely the shader reproduces the ONNX model on luma image ``y`` (dB, 4-pixel border cropped)."""
    ref = np.clip(run_onnx(onnx_path, y), 0, 1)
    got = np.clip(run_glsl(glsl_path, y), 0, 1)
    return psnr(ref[4:-4, 4:-4], got[4:-4, 4:-4])


@dataclass(frozen=True)
class ExportReport:
    """What ``export_all`` wrote, and how closely the shader follows the ONNX (None: not checked, and why)."""

    onnx: Path
    glsl: Path
    check_db: float | None
    note: str

    @property
    def ok(self) -> bool:
        return self.check_db is None or self.check_db >= MIN_GLSL_PSNR

    def summary(self) -> str:
        check = (f"GLSL vs ONNX {self.check_db:.1f} dB ({'ok' if self.ok else f'below {MIN_GLSL_PSNR:.0f} dB'})"
                 if self.check_db is not None else f"GLSL not checked: {self.note}")
        return f"wrote {self.onnx} and {self.glsl}; {check}"


def glsl_header(name: str, tier: str, recipe: str) -> str:
    """The comment on top of an exported shader: what it is, for which sources, what it costs, where from."""
    from kizunasr_vs.train.tiers import multiply_adds, tier_of

    t = tier_of(tier)
    macs = multiply_adds(t)
    return (f"KizunaSR {name}: a 2x luma network trained by KizunaSR (MIT), compiled from {name}.onnx.\n"
            "What: learned 2x upscaler of the luma plane (chroma is left to the player's scaler); runs only when "
            "the picture is shown at least 1.2x larger.\n"
            "Sources: anime and other cel-shaded video, 480p-1080p; YUV (mpv hooks LUMA), any range.\n"
            f"Cost: {t.body + 2} compute passes at the source size, about {macs / 1000:.1f}k multiply-adds per "
            "source pixel.\n"
            f"Recipe: {recipe}")


def check_luma(image: Path | None, seed: int = 0) -> np.ndarray:
    """The luma of ``image`` (a centre crop of at most 256 x 256), or of a drawn picture."""
    from PIL import Image

    from kizunasr_vs.train import lineart
    from kizunasr_vs.train.degrade import luma

    if image is None:
        return luma(np.asarray(lineart.draw(192, np.random.default_rng(seed))))
    with Image.open(image) as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w, _ = rgb.shape
    y0, x0 = max(0, (h - 256) // 2), max(0, (w - 256) // 2)
    return luma(rgb[y0:y0 + 256, x0:x0 + 256])


def export_all(model: torch.nn.Module, folder: Path, name: str, tier: str, recipe: Recipe,
               check_image: Path | None) -> ExportReport:
    """``name``.onnx, ``name``.glsl and ``name``.json (tier and recipe) in ``folder``; the GLSL checked on one
    image."""
    recipe_json = json.dumps({"tier": tier, **asdict(recipe)}, indent=1)
    onnx_path = to_onnx(model, folder / f"{name}.onnx")
    note = glsl_header(name, tier, json.dumps(json.loads(recipe_json)))
    glsl_path = to_glsl(onnx_path, folder / f"{name}.glsl", note)
    write_atomic(folder / f"{name}.json", recipe_json + "\n")
    missing = _missing_for_check()
    if missing:
        return ExportReport(onnx_path, glsl_path, None, missing)
    db = glsl_vs_onnx_psnr(onnx_path, glsl_path, check_luma(check_image))
    return ExportReport(onnx_path, glsl_path, db, "")


def _missing_for_check() -> str:
    """Why the GLSL cannot be checked here ("" when it can)."""
    try:
        import onnxruntime  # noqa: F401
        import vapoursynth as vs
    except ImportError as exc:
        return f"{exc.name} is not installed"
    return "" if hasattr(vs.core, "placebo") else "vs-placebo is not loaded"
