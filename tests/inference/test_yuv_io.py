"""YUV planes straight into the model's graph (inference/yuv_io.py) against a numpy reference of the same
conversion around onnxruntime's own output of the original model, and against the zimg path."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
import vapoursynth as vs
from onnx import TensorProto, helper

from kizunasr_vs.core.metrics import psnr
from kizunasr_vs.inference import onnx_filter
from kizunasr_vs.inference.onnx_filter import onnx as kz_onnx
from tests.conftest import shared_model
from tests.inference.test_onnx import SUC, _image, _ort_direct, _resize_model, _rgbs
from tests.vsarrays import planes_of

core = vs.core
KR_KB = {1: (0.2126, 0.0722), 6: (0.299, 0.114)}


def _codes(bits: int, full: bool) -> tuple[float, float, float, float]:
    if full:
        top = 2.0**bits - 1
        return 0.0, top, 2.0 ** (bits - 1), top
    k = 2.0 ** (bits - 8)
    return 16 * k, 219 * k, 128 * k, 224 * k


def _up(c: np.ndarray, axis: int, cosited: bool) -> np.ndarray:
    """2x linear interpolation along ``axis``, borders repeated."""
    c = np.moveaxis(c, axis, 0)
    nxt = np.concatenate([c[1:], c[-1:]])
    if cosited:  # samples at even positions, midpoints at odd ones
        out = np.stack([c, (c + nxt) / 2], axis=1)
    else:  # samples between two output pixels: weights 3/4 and 1/4
        prv = np.concatenate([c[:1], c[:-1]])
        out = np.stack([0.75 * c + 0.25 * prv, 0.75 * c + 0.25 * nxt], axis=1)
    return np.moveaxis(out.reshape(-1, *c.shape[1:]), 0, axis)


def _down(c: np.ndarray, axis: int, cosited: bool) -> np.ndarray:
    c = np.moveaxis(c, axis, 0)
    even, odd = c[0::2], c[1::2]
    if cosited:
        before = np.concatenate([c[:1], odd[:-1]])
        out = 0.25 * before + 0.5 * even + 0.25 * odd
    else:
        out = (even + odd) / 2
    return np.moveaxis(out, 0, axis)


def _yuv_clip(h: int, w: int, fmt: int = vs.YUV420P8, matrix: int = 1, full: bool = False, chromaloc: int = 0,
              **props: object) -> vs.VideoNode:
    """A crop of the real test image converted by zimg to ``fmt``, tagged with its matrix, range and chroma
    location (and ``props``)."""
    yuv = core.resize.Bicubic(_rgbs(_image(h, w)), format=fmt, matrix=matrix, range=int(full), range_in=1,
                              chromaloc=chromaloc)
    return core.std.SetFrameProps(yuv, _Matrix=matrix, _Range=int(full), _ChromaLocation=chromaloc, **props)


def reference(run: Callable[[np.ndarray], np.ndarray], planes: list[np.ndarray], matrix: int, full: bool,
              sub: tuple[int, int], cosited: bool, bits_in: int, bits_out: int) -> list[np.ndarray]:
    """The conversion written out in numpy around ``run`` ([3, H, W] RGB in, [3, sH, sW] out)."""
    kr, kb = KR_KB[matrix]
    kg = 1 - kr - kb
    y_off, y_span, c_off, c_span = _codes(bits_in, full)
    y = (planes[0].astype(np.float64) - y_off) / y_span
    cb, cr = ((p.astype(np.float64) - c_off) / c_span for p in planes[1:])
    if sub[1]:
        cb, cr = _up(cb, 0, False), _up(cr, 0, False)
    if sub[0]:
        cb, cr = _up(cb, 1, cosited), _up(cr, 1, cosited)
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / kg
    out = run(np.stack([r, g, b])).astype(np.float64)
    y2 = kr * out[0] + kg * out[1] + kb * out[2]
    cb2, cr2 = (out[2] - y2) / (2 * (1 - kb)), (out[0] - y2) / (2 * (1 - kr))
    if sub[1]:
        cb2, cr2 = _down(cb2, 0, False), _down(cr2, 0, False)
    if sub[0]:
        cb2, cr2 = _down(cb2, 1, cosited), _down(cr2, 1, cosited)
    y_off, y_span, c_off, c_span = _codes(bits_out, full)
    top = 2**bits_out - 1
    return [np.clip(np.round(y2 * y_span + y_off), 0, top), np.clip(np.round(cb2 * c_span + c_off), 0, top),
            np.clip(np.round(cr2 * c_span + c_off), 0, top)]


@pytest.mark.parametrize(("fmt", "out_fmt", "matrix", "full", "chromaloc"), [
    (vs.YUV420P8, None, 1, False, 0),
    (vs.YUV420P10, vs.YUV420P16, 6, False, 1),
    (vs.YUV422P8, vs.YUV422P10, 1, True, 0),
    (vs.YUV444P16, None, 1, False, 0),
])
def test_yuv_io_matches_numpy_reference(fmt: int, out_fmt: int | None, matrix: int, full: bool,
                                        chromaloc: int) -> None:
    model = shared_model(SUC)
    yuv = _yuv_clip(48, 64, fmt, matrix, full, chromaloc, _Transfer=1, _Primaries=1, Label="kept")
    out = kz_onnx(yuv, model, backend="cpu", fp16=False, yuv_io=True, output_format=out_fmt)
    target = core.get_video_format(out_fmt or fmt)
    assert (out.format.id, out.width, out.height) == (target.id, 128, 96)
    props = out.get_frame(0).props
    assert (props["_Matrix"], props["_Range"], props["Label"]) == (matrix, int(full), "kept")
    src = yuv.format
    want = reference(lambda rgb: _ort_direct(model, rgb.astype(np.float32)), planes_of(yuv), matrix, full,
                     (src.subsampling_w, src.subsampling_h), chromaloc == 0, src.bits_per_sample,
                     target.bits_per_sample)
    for got, expected in zip(planes_of(out), want, strict=True):
        assert got.shape == expected.shape
        diff = np.abs(got.astype(np.int64) - expected)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # fp32 vs fp64 rounding at .5 only


@pytest.mark.parametrize(("fmt", "matrix", "full", "chromaloc", "floors"), [
    (vs.YUV420P10, 1, False, 0, (60.0, 50.0)),
    (vs.YUV420P8, 6, True, 1, (50.0, 42.0)),
    (vs.YUV422P10, 1, True, 0, (60.0, 50.0)),
    (vs.YUV444P16, 6, False, 0, (80.0, 80.0)),
])
def test_yuv_io_close_to_the_zimg_path(fmt: int, matrix: int, full: bool, chromaloc: int,
                                       floors: tuple[float, float]) -> None:
    """zimg (an independent implementation) converts on the other path; only the chroma resampler differs."""
    model = shared_model(SUC)
    yuv = _yuv_clip(64, 96, fmt, matrix, full, chromaloc, _Transfer=1, _Primaries=1)
    ours = planes_of(kz_onnx(yuv, model, backend="cpu", yuv_io=True))
    zimg = planes_of(kz_onnx(yuv, model, backend="cpu", yuv_io=False))
    top = 2.0 ** yuv.format.bits_per_sample - 1
    for got, want, floor in zip(ours, zimg, (floors[0], floors[1], floors[1]), strict=True):
        assert psnr(got, want, peak=top) >= floor


def test_yuv_io_with_an_fp16_model() -> None:
    """The model's own type (fp16 here) sits between the fp32 colour conversion nodes."""
    model = _resize_model([1, 1, 2, 2], dtype=TensorProto.FLOAT16)
    yuv = _yuv_clip(32, 48)
    out = kz_onnx(yuv, model, backend="cpu", yuv_io=True)
    want = reference(lambda rgb: rgb.astype(np.float16).repeat(2, axis=1).repeat(2, axis=2), planes_of(yuv), 1,
                     False, (1, 1), True, 8, 8)
    for got, expected in zip(planes_of(out), want, strict=True):
        assert np.abs(got.astype(np.int64) - expected).max() <= 1


def _opset10_model() -> bytes:
    """A 2x RGB model in opset 10 (too old for the YUV wrapper): 1x1 conv to 12 channels + DepthToSpace."""
    weights = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0).reshape(12, 3, 1, 1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("DepthToSpace", ["c"], ["y"], blocksize=2)]
    graph = helper.make_graph(nodes, "old", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [onnx.numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    model.ir_version = 5
    return model.SerializeToString()


def test_default_falls_back_to_zimg_when_the_model_cannot_take_yuv(monkeypatch: pytest.MonkeyPatch) -> None:
    yuv, old = _yuv_clip(16, 16), _opset10_model()
    with pytest.raises(vs.Error, match="cannot take YUV planes.*opset 10"):
        kz_onnx(yuv, old, backend="cpu", yuv_io=True)
    zimg = planes_of(kz_onnx(yuv, old, backend="cpu", yuv_io=False))
    monkeypatch.setattr(onnx_filter, "is_gpu", lambda providers: True)  # the default then asks for yuv_io
    fallback = planes_of(kz_onnx(yuv, old, backend="cpu", fp16=False))
    for got, want in zip(fallback, zimg, strict=True):
        assert np.array_equal(got, want)


def test_yuv_io_refuses_what_it_cannot_convert() -> None:
    model = shared_model(SUC)
    rgb = _rgbs(_image(16, 16))
    with pytest.raises(vs.Error, match="yuv_io needs .*got RGBS"):
        kz_onnx(rgb, model, backend="cpu", yuv_io=True)
    yuv = core.std.SetFrameProps(rgb.resize.Bicubic(format=vs.YUV420P8, matrix=1), _Matrix=1, _ChromaLocation=0)
    with pytest.raises(vs.Error, match="yuv_io needs .*a whole-frame run"):
        kz_onnx(yuv, model, backend="cpu", yuv_io=True, tile=8)
    with pytest.raises(vs.Error, match="yuv_io needs an RGB"):
        kz_onnx(yuv, _resize_model([1, 1, 2, 2], channels=1), backend="cpu", yuv_io=True)
