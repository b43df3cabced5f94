"""compiler.glsl: ONNX conv nets compiled to mpv user shaders, checked against onnxruntime.

Each generated shader runs through vs-placebo (Mesa lavapipe here) in a subprocess, which keeps
libplacebo's GLSL error output (printed on fd 2, the frame then comes back unshaded) apart and
sets ``GALLIVM_PERF=nopt`` (halves lavapipe's shader JIT time) for that process only.

Input planes are 16-bit RGB fed as "YUV" with ``matrix=0`` (libplacebo: no colour matrix); the
reference is onnxruntime on the same 16-bit values / 65535. libplacebo rounds the merged RGB
input and every stored texture to rgba16f (truncating on lavapipe), so the bound is PSNR (peak
1.0) >= 50 dB for op models and fp32 real models, >= 40 dB for fp16.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper
from PIL import Image

from kizunasr_vs.compiler import cache as glsl_cache
from kizunasr_vs.compiler.emit import Emitter
from kizunasr_vs.compiler.glsl import CompileError, compile_onnx_to_glsl, export_glsl
from kizunasr_vs.compiler.graph import normalise
from kizunasr_vs.core.metrics import psnr
from tests.conftest import shared_media, shared_model

OP_PSNR = 50.0
FP32_PSNR = 50.0
FP16_PSNR = 40.0
SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
UC = "2x_AnimeJaNai_HD_V3_UltraCompact-fp32.onnx"
COMPACT = "2x_AnimeJaNai_HD_V3_Compact-fp32.onnx"
SD_COMPACT = "2x_AnimeJaNai_SD_V1beta34_Compact-fp32.onnx"
PL_BT709 = 2  # libplacebo pl_color_system numbering (placebo.Shader's `matrix`)

_RUNNER = textwrap.dedent("""
    import sys
    import numpy as np
    import vapoursynth as vs

    core = vs.core
    shader, src, dst, scale, matrix = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    planes = np.load(src)
    h, w = planes.shape[1:]
    blank = core.std.BlankClip(width=w, height=h, format=vs.YUV444P16, length=1)

    def fill(n, f):
        f = f.copy()
        for p in range(3):
            np.asarray(f[p])[:] = planes[p]
        return f

    clip = core.std.SetFrameProps(core.std.ModifyFrame(blank, blank, fill), _Range=1)
    out = core.placebo.Shader(clip, shader=shader, width=w * scale, height=h * scale, matrix=matrix,
                              linearize=0, sigmoidize=0)
    frame = out.get_frame(0)
    np.save(dst, np.stack([np.asarray(frame[p]) for p in range(3)]))
""")


# ----- model building ------------------------------------------------------------------------


class Net:
    """Builds small random-weight ONNX models (fixed seed) node by node."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def name(self, prefix: str) -> str:
        return f"{prefix}{len(self.nodes) + len(self.inits)}"

    def const(self, value: np.ndarray | float) -> str:
        name = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{out}", **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int = 3, **attrs: object) -> str:
        w = self.rng.normal(0, 1 / np.sqrt(cin * k * k), (cout, cin, k, k))
        b = self.rng.normal(0, 0.1, cout)
        attrs = {"kernel_shape": [k, k], "pads": [k // 2] * 4, **attrs}
        return self.op("Conv", [x, self.const(w), self.const(b)], **attrs)

    def to_unit(self, x: str) -> str:
        """Map roughly N(0, 1) values into (0, 1): the output is 16-bit unorm."""
        return self.op("Add", [self.op("Mul", [x, self.const(0.15)]), self.const(0.5)])

    def model(self, out: str, in_ch: int = 3, out_ch: int = 3, opset: int = 17) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "test",
            [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, in_ch, "h", "w"])],
            [helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, [1, out_ch, "H", "W"])],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def conv_chain() -> onnx.ModelProto:
    """3x3 and 1x1 convs through 5 and 8 channels (not multiples of 4)."""
    n = Net(1)
    y = n.conv(n.conv(n.conv("x", 3, 5), 5, 8, k=1), 8, 3)
    return n.model(n.to_unit(y))


def activation(op_type: str, **attrs: object) -> onnx.ModelProto:
    """conv 3->8, the activation, conv 8->3."""
    n = Net(2)
    h = n.conv("x", 3, 8)
    if op_type == "PRelu":
        h = n.op("PRelu", [h, n.const(n.rng.uniform(-0.5, 0.5, (8, 1, 1)))])
    elif op_type == "Clip":
        h = n.op("Clip", [h, n.const(-0.3), n.const(0.4)])
    else:
        h = n.op(op_type, [h], **attrs)
    return n.model(n.to_unit(n.conv(h, 8, 3)))


def edge_padded(n: Net, x: str, cin: int, cout: int, k: int = 3) -> str:
    """``Pad`` (mode edge) then a conv without padding, as PyTorch exports ``padding_mode="replicate"``; the pad
    widths come from a small constant subgraph (Concat, Cast) that the compiler folds."""
    half = n.name("p")
    n.inits.append(numpy_helper.from_array(np.array([0, 0, k // 2, k // 2], np.int64), half))
    pads = n.op("Cast", [n.op("Concat", [half, half], axis=0)], to=onnx.TensorProto.INT64)
    padded = n.op("Pad", [x, pads], mode="edge")
    return n.conv(padded, cin, cout, k, pads=[0, 0, 0, 0])


def edge_padding() -> onnx.ModelProto:
    """Edge-padded convs 3->8 (PReLU) -> 8->3, next to a zero-padded one reading the same tensor."""
    n = Net(12)
    h = n.op("PRelu", [edge_padded(n, "x", 3, 8), n.const(n.rng.uniform(-0.5, 0.5, (8, 1, 1)))])
    y = n.op("Add", [edge_padded(n, h, 8, 3), n.conv(h, 8, 3)])
    return n.model(n.to_unit(y))


def shared_edge_pad() -> onnx.ModelProto:
    """One edge Pad read by two convs (opset 10: the widths are an attribute)."""
    n = Net(13)
    padded = n.op("Pad", ["x"], mode="edge", pads=[0, 0, 1, 1, 0, 0, 1, 1])
    y = n.op("Add", [n.conv(padded, 3, 3, pads=[0, 0, 0, 0]), n.conv(padded, 3, 3, pads=[0, 0, 0, 0])])
    return n.model(n.to_unit(y), opset=10)


def residual_add() -> onnx.ModelProto:
    """Tensor + tensor: two conv branches added, plus a residual add of the input."""
    n = Net(3)
    a, b = n.conv("x", 3, 6), n.conv("x", 3, 6)
    h = n.op("Relu", [n.op("Add", [a, b])])
    return n.model(n.to_unit(n.op("Add", [n.conv(h, 6, 3), "x"])))


def concat() -> onnx.ModelProto:
    """Concat of a 5-channel conv output and the 3-channel input, read by a conv."""
    n = Net(4)
    h = n.op("Concat", [n.conv("x", 3, 5), "x"], axis=1)
    return n.model(n.to_unit(n.conv(h, 8, 3)))


def const_arith() -> onnx.ModelProto:
    """Mul / Sub / Add / Div by constants (per-channel and scalar), before and after a Relu."""
    n = Net(5)
    h = n.op("Mul", [n.conv("x", 3, 6), n.const(n.rng.uniform(0.5, 2, (1, 6, 1, 1)))])
    h = n.op("Relu", [n.op("Sub", [h, n.const(0.1)])])
    h = n.op("Div", [n.op("Add", [h, n.const(n.rng.uniform(-1, 1, (6, 1, 1)))]), n.const(2.0)])
    h = n.op("Sub", [n.const(0.25), n.conv(h, 6, 3)])
    return n.model(n.to_unit(h))


def depth_to_space(mode: str) -> onnx.ModelProto:
    """conv 3->12, pixel shuffle 2x."""
    n = Net(6)
    return n.model(n.to_unit(n.op("DepthToSpace", [n.conv("x", 3, 12)], blocksize=2, mode=mode)))


def resize_nearest(ctm: str, nearest_mode: str) -> onnx.ModelProto:
    """Nearest 2x upscale, a conv at 2x, plus the upscaled input (SRVGGNet residual)."""
    n = Net(7)
    up = n.op("Resize", ["x", "", n.const([1, 1, 2, 2])], mode="nearest",
              coordinate_transformation_mode=ctm, nearest_mode=nearest_mode)
    return n.model(n.op("Add", [n.op("Mul", [n.conv(up, 3, 3), n.const(0.1)]), up]))


def depth_to_space_then_conv() -> onnx.ModelProto:
    """Pixel shuffle (DCR) feeding a conv at 2x: the shuffled tensor is stored, then convolved."""
    n = Net(11)
    h = n.op("DepthToSpace", [n.conv("x", 3, 16)], blocksize=2, mode="DCR")
    return n.model(n.to_unit(n.conv(n.op("Relu", [h]), 4, 3)))


def upsample_then_conv() -> onnx.ModelProto:
    """conv, scalar-slope PRelu, nearest 2x, conv at 2x, times the upscaled input."""
    n = Net(12)
    h = n.op("PRelu", [n.conv("x", 3, 5), n.const(0.1)])
    a = n.conv(n.op("Resize", [h, "", n.const([1, 1, 2, 2])], mode="nearest"), 5, 3)
    up = n.op("Resize", ["x", "", n.const([1, 1, 2, 2])], mode="nearest")
    return n.model(n.to_unit(n.op("Mul", [a, up])))


def many_textures() -> onnx.ModelProto:
    """conv 3->68: the next conv reads 17 textures (> 16 binds), so it is split."""
    n = Net(8)
    return n.model(n.to_unit(n.conv(n.op("Relu", [n.conv("x", 3, 68)]), 68, 3)))


def wide_concat() -> onnx.ModelProto:
    """17 separate 4-channel tensors joined and read by a 68->68 conv: even packed, that conv reads 17 textures,
    and its partial sums need one texture per output group (17), so the value falls back to one pass per group."""
    n = Net(10)
    parts = [n.op("Relu", [n.conv("x", 3, 4, k=1)]) for _ in range(17)]
    h = n.op("Relu", [n.conv(n.op("Concat", parts, axis=1), 68, 68, k=1)])
    return n.model(n.to_unit(n.conv(h, 68, 3, k=1)))


def luma_model() -> onnx.ModelProto:
    """1-channel 2x model for the LUMA hook."""
    n = Net(9)
    h = n.conv(n.op("LeakyRelu", [n.conv("x", 1, 4)], alpha=0.2), 4, 4)
    return n.model(n.to_unit(n.op("DepthToSpace", [h], blocksize=2, mode="CRD")), 1, 1)


# ----- running -------------------------------------------------------------------------------


def onnxruntime_out(model: onnx.ModelProto | Path, x: np.ndarray) -> np.ndarray:
    """The reference: onnxruntime CPU on one CHW float image."""
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x[None].astype(np.float32)})[0][0]


def placebo_out(glsl: str, planes: np.ndarray, scale: int, matrix: int, tmp: Path) -> np.ndarray:
    """Run ``glsl`` on 16-bit planes [3, H, W] through vs-placebo; returns the output planes / 65535."""
    (tmp / "shader.glsl").write_text(glsl)
    np.save(tmp / "in.npy", planes)
    env = {**os.environ, "GALLIVM_PERF": "nopt"}
    args = [sys.executable, "-c", _RUNNER, str(tmp / "shader.glsl"), str(tmp / "in.npy"), str(tmp / "out.npy"),
            str(scale), str(matrix)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip() and "not a conformant" not in ln]
    assert not errors, "libplacebo reported errors:\n" + "\n".join(errors[-40:])
    return np.load(tmp / "out.npy").astype(np.float64) / 65535


def random_planes(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (3, h, w), dtype=np.uint16)


def image_planes(w: int, h: int, x0: int = 200, y0: int = 150) -> np.ndarray:
    """A crop of the real test picture as 16-bit RGB planes."""
    img = np.asarray(Image.open(shared_media("anime4k_bird_LR.png")).convert("RGB"))
    crop = img[y0:y0 + h, x0:x0 + w].transpose(2, 0, 1).astype(np.uint16)
    return crop * 257


def glsl_psnr(model: onnx.ModelProto | Path, glsl: str, planes: np.ndarray, tmp: Path) -> float:
    """PSNR of the MAIN shader ``glsl`` vs onnxruntime's run of ``model`` on the same 16-bit RGB input."""
    ref = np.clip(onnxruntime_out(model, planes / 65535), 0, 1)
    return psnr(placebo_out(glsl, planes, ref.shape[1] // planes.shape[1], 0, tmp), ref)


def compare_rgb(model: onnx.ModelProto | Path, planes: np.ndarray, precision: str, tmp: Path) -> float:
    """PSNR of the compiled MAIN shader vs onnxruntime on the same 16-bit RGB input."""
    return glsl_psnr(model, compile_onnx_to_glsl(model, "MAIN", precision), planes, tmp)  # type: ignore[arg-type]


# ----- ops, one by one -----------------------------------------------------------------------

OP_MODELS = {
    "conv_3_5_8_3x3_1x1": conv_chain,
    "relu": lambda: activation("Relu"),
    "prelu": lambda: activation("PRelu"),
    "leaky_relu": lambda: activation("LeakyRelu", alpha=0.2),
    "clip": lambda: activation("Clip"),
    "add_tensors": residual_add,
    "concat": concat,
    "mul_sub_add_div_const": const_arith,
    "depth_to_space_dcr": lambda: depth_to_space("DCR"),
    "depth_to_space_crd": lambda: depth_to_space("CRD"),
    "resize_nearest_asymmetric": lambda: resize_nearest("asymmetric", "floor"),
    "resize_nearest_half_pixel": lambda: resize_nearest("half_pixel", "round_prefer_floor"),
    "depth_to_space_then_conv": depth_to_space_then_conv,
    "upsample_then_conv_mul": upsample_then_conv,
    "more_than_16_textures": many_textures,
    "wide_concat_falls_back_to_unpacked": wide_concat,
    "edge_padding": edge_padding,
    "edge_pad_read_by_two_convs_opset10": shared_edge_pad,
}


@pytest.mark.parametrize("case", list(OP_MODELS))
def test_op_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    """Each op's shader output vs onnxruntime on random 16-bit input: PSNR >= 50 dB."""
    value = compare_rgb(OP_MODELS[case](), random_planes(20, 28), "fp32", tmp_path)
    assert value >= OP_PSNR, f"{case}: PSNR {value:.2f} dB"


@pytest.mark.parametrize("case", ["conv_3_5_8_3x3_1x1", "depth_to_space_then_conv", "more_than_16_textures",
                                  "edge_padding"])
def test_unpacked_passes_match_onnxruntime(case: str, tmp_path: Path) -> None:
    """The one-pass-per-4-channels layout (pack=False; fragment passes use it) stays exact too."""
    model = OP_MODELS[case]()
    glsl = compile_onnx_to_glsl(model, "MAIN", "fp32", pack=False)
    assert "ivec2(3, 2)" not in glsl and "//!COMPUTE 32 8\n" in glsl
    value = glsl_psnr(model, glsl, random_planes(20, 28), tmp_path)
    assert value >= OP_PSNR, f"{case} unpacked: PSNR {value:.2f} dB"


@pytest.mark.parametrize("case", ["conv_3_5_8_3x3_1x1", "edge_padding"])
def test_shared_memory_tiles_match_onnxruntime(case: str, tmp_path: Path) -> None:
    """The optional shared-memory tiles (``Emitter(tile=True)``) pad like the model: zeros or the edge pixels."""
    model = OP_MODELS[case]()
    glsl = Emitter(normalise(model), "MAIN", "fp32", tile=True, pack=True).render()
    assert "barrier();" in glsl
    value = glsl_psnr(model, glsl, random_planes(20, 28), tmp_path)
    assert value >= OP_PSNR, f"{case} tiled: PSNR {value:.2f} dB"


def test_packed_layout_of_a_24_channel_model() -> None:
    """SuperUltraCompact (24 channels): one pass per stored tensor, 6 groups of 4 channels in a 3 x 2 texel grid
    per pixel, each thread storing its pixel's 6 texels."""
    passes = compile_onnx_to_glsl(shared_model(SUC)).split("//!DESC")[1:]
    body = passes[1]
    assert "//!WIDTH HOOKED.w 3 *" in body and "//!HEIGHT HOOKED.h 2 *" in body
    assert "//!COMPUTE 96 16 32 8" in body
    stores = [f"imageStore(out_image, P * ivec2(3, 2) + ivec2({g % 3}, {g // 3})" for g in range(6)]
    assert all(s in body for s in stores)
    assert body.count("//!BIND") == 1 and "texelFetch(kz0_raw, " in body  # the 24 channels come from one texture
    assert len(passes) == 11  # 10 stored tensors (8 body convs, first and last conv) + the output pass


def test_luma_hook_matches_onnxruntime(tmp_path: Path) -> None:
    """A 1-channel model hooks LUMA; luma out vs onnxruntime on the luma plane."""
    planes = random_planes(20, 28)
    planes[1:] = 32768  # neutral chroma
    ref = np.clip(onnxruntime_out(luma_model(), planes[:1] / 65535), 0, 1)
    out = placebo_out(compile_onnx_to_glsl(luma_model(), "LUMA"), planes, 2, PL_BT709, tmp_path)
    assert psnr(out[0], ref[0]) >= OP_PSNR


@pytest.mark.parametrize("case", ["conv_3_5_8_3x3_1x1", "mul_sub_add_div_const"])
def test_fp16_random_weights_match_onnxruntime(case: str, tmp_path: Path) -> None:
    """fp16 rounds the (random, not half-exact) fp32 weights: PSNR >= 40 dB."""
    value = compare_rgb(OP_MODELS[case](), random_planes(20, 28), "fp16", tmp_path)
    assert value >= FP16_PSNR, f"{case} fp16: PSNR {value:.2f} dB"


def test_fp16_constants_are_half_values() -> None:
    """fp16 mode writes every weight as an exact binary16 value and uses mediump accumulators."""
    glsl = compile_onnx_to_glsl(conv_chain(), precision="fp16")
    literals = np.array([float(v) for line in glsl.splitlines() if line.startswith("const mat4")
                         for v in line.split("(", 1)[1].rstrip(");").split(",")], dtype=np.float32)
    assert literals.size and np.array_equal(literals.astype(np.float16).astype(np.float32), literals)
    assert "mediump vec4" in glsl and "mediump" not in compile_onnx_to_glsl(conv_chain())


# ----- real models ---------------------------------------------------------------------------


@pytest.mark.slow
def test_compiles_all_animejanai_compact_models() -> None:
    """All four V3 fp32 Compact models compile; passes stay within mpv's limits."""
    for name in (SUC, UC, COMPACT, SD_COMPACT):
        glsl = compile_onnx_to_glsl(shared_model(name), "MAIN", "fp16")
        passes = glsl.split("//!DESC")[1:]
        assert all(p.count("//!BIND") <= 16 for p in passes), name
        assert all("//!COMPONENTS 4" in p and "//!SAVE" in p for p in passes[:-1]), name
        assert "//!WIDTH HOOKED.w 2 *" in passes[-1] and "//!SAVE" not in passes[-1], name
        # compute passes: fragment work runs on only a few SMs of some GPUs (NVIDIA H100)
        assert all("//!COMPUTE" in p and "imageStore(out_image, P" in p for p in passes), name
        assert "HOOKED_tex" not in glsl and "texture(" not in glsl, name


@pytest.mark.slow
@pytest.mark.parametrize("precision, bound", [("fp32", FP32_PSNR), ("fp16", FP16_PSNR)])
@pytest.mark.parametrize("name", [SUC, UC])
def test_real_model_matches_onnxruntime(name: str, precision: str, bound: float, tmp_path: Path) -> None:
    """A 96x64 crop of a real picture: shader vs onnxruntime."""
    value = compare_rgb(shared_model(name), image_planes(96, 64), precision, tmp_path)
    assert value >= bound, f"{name} {precision}: PSNR {value:.2f} dB"


@pytest.mark.slow
@pytest.mark.parametrize("precision, bound", [("fp32", FP32_PSNR), ("fp16", FP16_PSNR)])
def test_compact_matches_onnxruntime(precision: str, bound: float, tmp_path: Path) -> None:
    value = compare_rgb(shared_model(COMPACT), image_planes(64, 48), precision, tmp_path)
    assert value >= bound, f"Compact {precision}: PSNR {value:.2f} dB"


# ----- errors --------------------------------------------------------------------------------


def unsupported(kind: str) -> onnx.ModelProto:
    n = Net(10)
    if kind == "Sigmoid":
        return n.model(n.conv(n.op("Sigmoid", [n.conv("x", 3, 4)]), 4, 3))
    if kind == "ResizeLinear":
        return n.model(n.op("Resize", ["x", "", n.const([1, 1, 2, 2])], mode="linear"))
    attrs: dict[str, object] = {
        "stride2": {"strides": [2, 2]},
        "dilation2": {"dilations": [2, 2], "pads": [2, 2, 2, 2]},
        "valid_padding": {"pads": [0, 0, 0, 0]},
    }.get(kind, {})
    if kind == "PadConstant":
        return n.model(n.conv(n.op("Pad", ["x", n.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]))], mode="constant"), 3, 3,
                              pads=[0, 0, 0, 0]))
    if kind == "PadEdgeToAdd":
        pads = n.name("p")
        n.inits.append(numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), pads))
        return n.model(n.op("Add", [n.op("Pad", ["x", pads], mode="edge"), n.const(0.5)]))
    if kind == "PadEdgeBefore1x1":
        pads = n.name("p")
        n.inits.append(numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), pads))
        return n.model(n.conv(n.op("Pad", ["x", pads], mode="edge"), 3, 3, k=1, pads=[0, 0, 0, 0]))
    if kind == "groups":
        w, b = n.const(np.ones((3, 1, 3, 3))), n.const(np.zeros(3))
        return n.model(n.op("Conv", ["x", w, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3))
    return n.model(n.conv("x", 3, 3, k=5 if kind == "kernel5" else 3, **attrs))


@pytest.mark.parametrize("kind, op, words", [
    ("Sigmoid", "Sigmoid", "unsupported op"),
    ("ResizeLinear", "Resize", "mode=linear"),
    ("stride2", "Conv", "strides"),
    ("dilation2", "Conv", "dilations"),
    ("valid_padding", "Conv", "pads"),
    ("groups", "Conv", "group"),
    ("kernel5", "Conv", "kernel 5x5"),
    ("PadConstant", "Pad", "only 'edge'"),
    ("PadEdgeToAdd", "Add", "edge Pad's output"),
    ("PadEdgeBefore1x1", "Conv", "in front of a 3x3 convolution"),
])
def test_unsupported_raises_naming_node_and_op(kind: str, op: str, words: str, tmp_path: Path) -> None:
    """CompileError names the node and op; export_glsl leaves no file (and no temp file)."""
    model = unsupported(kind)
    node = next(nd.name for nd in model.graph.node if nd.op_type == op)
    with pytest.raises(CompileError) as info:
        compile_onnx_to_glsl(model)
    assert node in str(info.value) and op in str(info.value) and words in str(info.value)
    onnx.save(model, tmp_path / "bad.onnx")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(CompileError):
        export_glsl(tmp_path / "bad.onnx", out_dir / "bad.glsl", "MAIN", "fp32")
    assert list(out_dir.iterdir()) == []


def test_hook_must_match_channels() -> None:
    with pytest.raises(CompileError, match="LUMA"):
        compile_onnx_to_glsl(conv_chain(), hook="LUMA")


def test_export_writes_the_shader(tmp_path: Path) -> None:
    onnx.save(conv_chain(), tmp_path / "m.onnx")
    out = export_glsl(tmp_path / "m.onnx", tmp_path / "sub" / "m.glsl", "MAIN", "fp16")
    assert out.read_text() == compile_onnx_to_glsl(tmp_path / "m.onnx", "MAIN", "fp16")
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.glsl"]


# ----- cache ---------------------------------------------------------------------------------


def test_cache_reuses_and_keys_by_precision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same model -> same file, not rewritten; another precision or model bytes -> another file."""
    monkeypatch.setenv("KIZUNASR_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "m.onnx"
    onnx.save(conv_chain(), model)
    first = glsl_cache.cached_glsl(model, "MAIN", "fp32")
    assert first.parent == tmp_path / "cache" / "glsl" and first.is_file()
    mtime = first.stat().st_mtime_ns

    def no_compile(*args: object) -> None:
        raise AssertionError("recompiled a cached shader")

    with monkeypatch.context() as m:
        m.setattr(glsl_cache, "export_glsl", no_compile)
        assert glsl_cache.cached_glsl(model, "MAIN", "fp32") == first
    assert first.stat().st_mtime_ns == mtime
    fp16 = glsl_cache.cached_glsl(model, "MAIN", "fp16")
    assert fp16 != first and fp16.is_file()
    onnx.save(activation("Relu"), model)
    assert glsl_cache.cached_glsl(model, "MAIN", "fp32") != first


def test_cache_dir_defaults_to_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIZUNASR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert glsl_cache.cache_dir() == tmp_path / "kizunasr" / "glsl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert glsl_cache.cache_dir() == Path.home() / ".cache" / "kizunasr" / "glsl"
