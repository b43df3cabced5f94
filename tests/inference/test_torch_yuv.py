"""The torch backend's YUV conversion (inference/torch_yuv.py) against onnxruntime running yuv_io's wrapped graph
of the same model on the same planes (CPU, fp32).

PyTorch is not a dependency and is absent in CI; these tests then skip. They ran on the GPU machine and on a
Python 3.11 scratch environment with the CPU torch wheel.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from kizunasr_vs.core.metrics import psnr
from kizunasr_vs.inference.yuv_io import PLANES_IN, PLANES_OUT, YuvLayout, plane_dtype, wrap_yuv_io

torch = pytest.importorskip("torch")

LAYOUTS = [  # matrix, range (0 limited, 1 full), chroma location (0 left, 1 center), sub_w, sub_h, bits in, out
    YuvLayout(1, 1, 0, 1, 1, 8, 10),
    YuvLayout(1, 1, 1, 1, 1, 10, 10),
    YuvLayout(6, 0, 0, 1, 0, 8, 8),
    YuvLayout(9, 1, 0, 0, 0, 16, 10),
]


def _model() -> onnx.ModelProto:
    """2x nearest then a 3x3 colour mix (mostly identity) plus an offset: RGB stays about 0..1."""
    mix = (np.eye(3) * 0.8 + 0.05).astype(np.float32).reshape(3, 3, 1, 1)
    nodes = [helper.make_node("Resize", ["x", "", "s"], ["r"], mode="nearest"),
             helper.make_node("Conv", ["r", "w", "b"], ["y"], kernel_shape=[1, 1])]
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s"),
             numpy_helper.from_array(mix, "w"), numpy_helper.from_array(np.full(3, 0.02, np.float32), "b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def _planes(layout: YuvLayout, h: int, w: int) -> list[np.ndarray]:
    rng = np.random.default_rng(layout.bits_in + layout.sub_w)
    top = (1 << layout.bits_in) - 1
    shapes = [(h, w)] + [(h >> layout.sub_h, w >> layout.sub_w)] * 2
    smooth = [rng.integers(0, top + 1, size=s) for s in shapes]  # full-range noise: clipping is exercised too
    return [p.astype(plane_dtype(layout.bits_in)).reshape(1, 1, *p.shape) for p in smooth]


def _wrapped_reference(model: onnx.ModelProto, layout: YuvLayout, planes: list[np.ndarray]) -> list[np.ndarray]:
    """onnxruntime (CPU, fp32) on yuv_io's wrapped graph of ``model``: the integer output planes."""
    session = ort.InferenceSession(wrap_yuv_io(model, layout).SerializeToString(), providers=["CPUExecutionProvider"])
    return list(session.run(list(PLANES_OUT), dict(zip(PLANES_IN, planes, strict=True))))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"m{lay.matrix}r{lay.range}c{lay.chroma_location}"
                         f"s{lay.sub_w}{lay.sub_h}b{lay.bits_in}-{lay.bits_out}")
def test_torch_conversion_matches_the_wrapped_onnx_graph(layout: YuvLayout) -> None:
    from kizunasr_vs.inference.torch_backend import build_module
    from kizunasr_vs.inference.torch_yuv import YuvConverter

    model = _model()
    planes = _planes(layout, 24, 40)
    expected = _wrapped_reference(model, layout, planes)
    convert = YuvConverter(layout)
    module = build_module(model).eval()
    with torch.inference_mode():
        # uint16 planes travel as their int16 bit patterns
        tensors = [torch.from_numpy(p.view(np.int16) if p.dtype == np.uint16 else p) for p in planes]
        out = convert.from_model(module(convert.to_model(*tensors)))
        got = [t.numpy().view(np.uint16) if t.dtype == torch.int16 else t.numpy() for t in out]
    for g, e, name in zip(got, expected, "YUV", strict=True):
        assert g.shape == e.shape, name
        diff = np.abs(g.astype(np.int64) - e.astype(np.int64))
        assert diff.max() <= 1, f"{name}: off by {diff.max()}"
        # exact .5 ties are common here (8-bit codes, nearest-resized pixels averaged by 1/4, 1/2, 1/4):
        # the last bit of fp32 summation order decides them
        assert (diff > 0).mean() < 0.03, f"{name}: {(diff > 0).mean():.3%} of samples off by one"
    assert got[0].dtype == expected[0].dtype == plane_dtype(layout.bits_out)


def test_torch_backend_on_cuda_matches_onnxruntime_on_yuv_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through ``kizunasr_vs.onnx(backend='torch')``: YUV420P8 in, YUV420P10 out, converted and run
    on the GPU in fp16, against onnxruntime's fp32 CPU run of the wrapped graph; with and without CUDA graphs."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (runs on the GPU machine)")
    import vapoursynth as vs

    from kizunasr_vs.inference.onnx_filter import onnx as kz_onnx
    from tests.conftest import shared_model
    from tests.inference.test_onnx import SUC
    from tests.inference.test_yuv_io import _yuv_clip
    from tests.vsarrays import planes_of

    path = shared_model(SUC)
    yuv = _yuv_clip(64, 96)
    planes = [p.reshape(1, 1, *p.shape) for p in planes_of(yuv)]
    reference = _wrapped_reference(onnx.load(str(path)), YuvLayout(1, 0, 0, 1, 1, 8, 10), planes)
    expected = [p[0, 0].astype(np.float64) for p in reference]
    runs = []
    for graphs in ("1", "0"):
        monkeypatch.setenv("KIZUNASR_TORCH_GRAPHS", graphs)
        out = kz_onnx(yuv, str(path), backend="torch", yuv_io=True, output_format=vs.YUV420P10)
        assert (out.format.id, out.width, out.height) == (vs.YUV420P10, 192, 128)
        runs.append(planes_of(out))
        for got, want, name in zip(runs[-1], expected, "YUV", strict=True):
            assert psnr(got, want, peak=1023.0) >= 45, f"{name} with graphs={graphs}"
    # cudnn.benchmark may pick other convolution algorithms for the captured and the eager run: equal
    # within fp16 rounding, not bit for bit
    for with_graph, without, name in zip(*runs, "YUV", strict=True):
        diff = np.abs(with_graph.astype(np.int64) - without.astype(np.int64))
        assert diff.max() <= 2 and (diff > 0).mean() < 0.05, \
            f"{name}: graphs on/off differ by up to {diff.max()} codes in {(diff > 0).mean():.2%} of samples"
