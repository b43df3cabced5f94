"""`kizunasr export-glsl`: the CLI, its errors, and the exported shader in real mpv.

The mpv check renders a 64x48 crop of a real anime frame (PNG, RGB) in mpv 0.35 ``--vo=gpu`` on
llvmpipe under Xvfb with ``--fbo-format=rgba32f --dither-depth=no``, window exactly 2x the input
(so nothing scales after the MAIN hook), takes a window screenshot and compares it with
onnxruntime's output on the same 8-bit RGB input, rounded to 8 bits. Tolerance: max abs
difference <= 3/255 and PSNR >= 40 dB (measured: identical, 0/255).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from kizunasr_vs.cli.main import main
from kizunasr_vs.core.metrics import psnr
from tests.conftest import shared_media, shared_model

SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
MAX_ABS_8BIT = 3
MIN_PSNR = 40.0


def cli(*argv: str) -> int:
    """Run the export-glsl sub-command as `kizunasr` does (errors reported by cli/main.py)."""
    return main(["export-glsl", *argv])


@pytest.fixture(scope="module")
def suc_shader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = shared_model(SUC)
    out = tmp_path_factory.mktemp("glsl") / "suc.glsl"
    assert cli(str(model), "-o", str(out)) == 0
    return out


def test_exports_real_model(suc_shader: Path) -> None:
    text = suc_shader.read_text()
    assert "//!HOOK MAIN" in text
    assert "//!WIDTH" in text and "//!HEIGHT" in text


def test_registry_name_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    model = shared_model(SUC)
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(model.parent))
    out = tmp_path / "suc_fp16.glsl"
    assert cli("animejanai-hd-v3-superultracompact", "-o", str(out), "--precision", "fp16") == 0
    assert "precision=fp16" in out.read_text()
    assert str(out) in capsys.readouterr().out


def strided_conv_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.2, (3, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="down_conv", kernel_shape=[3, 3],
                            pads=[1, 1, 1, 1], strides=[2, 2])
    graph = helper.make_graph([node], "strided",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, "H", "W"])],
                              [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_unsupported_op_fails_without_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx.save(strided_conv_model(), tmp_path / "bad.onnx")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert cli(str(tmp_path / "bad.onnx"), "-o", str(out_dir / "bad.glsl")) == 2
    err = capsys.readouterr().err
    assert "down_conv" in err and "Conv" in err and "strides" in err
    assert list(out_dir.iterdir()) == []


def test_missing_model_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "x.glsl")) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "x.glsl").exists()


@pytest.mark.slow
def test_shader_in_mpv_matches_onnxruntime(suc_shader: Path, tmp_path: Path) -> None:
    """mpv --vo=gpu renders the exported shader like onnxruntime (about 30 s on llvmpipe)."""
    from tests.glsl_helpers import have_mpv, mpv_compiled_source, mpv_errors, run_mpv, xvfb

    reason = have_mpv()
    if reason:
        pytest.skip(reason)
    import onnxruntime as ort
    from PIL import Image

    w, h = 64, 48
    with Image.open(shared_media("anime4k_bird_LR.png")) as im:
        src = im.convert("RGB").crop((200, 100, 200 + w, 100 + h))
    src.save(tmp_path / "in.png")
    x = np.asarray(src, np.float32).transpose(2, 0, 1)[None] / 255
    session = ort.InferenceSession(str(shared_model(SUC)), providers=["CPUExecutionProvider"])
    ref = session.run(None, {session.get_inputs()[0].name: x})[0][0].transpose(1, 2, 0)
    ref8 = np.clip(np.rint(ref.astype(np.float64) * 255), 0, 255)

    extra = [f"--geometry={2 * w}x{2 * h}", "--keepaspect-window", "--fbo-format=rgba32f", "--dither-depth=no",
             "--no-osc", "--osd-level=0", "--no-border"]
    with xvfb() as display:
        result = run_mpv(display, tmp_path / "in.png", [suc_shader], tmp_path, mode="window", extra=extra,
                         timeout=120)
    assert result.returncode == 0, result.log[-3000:]
    assert not mpv_errors(result.log), mpv_errors(result.log)[:5]
    first_line = next(ln.strip() for ln in suc_shader.read_text().splitlines() if ln.startswith("const mat4"))
    assert first_line in mpv_compiled_source(result.log), "mpv did not compile the exported shader"
    assert result.screenshot is not None, result.log[-3000:]
    with Image.open(result.screenshot) as shot:
        out = np.asarray(shot.convert("RGB"), np.float64)
    assert out.shape == ref8.shape
    diff = out - ref8
    db = psnr(out, ref8, peak=255.0)
    assert np.abs(diff).max() <= MAX_ABS_8BIT and db >= MIN_PSNR, (np.abs(diff).max(), db)
