"""The optional PyTorch backend: which graphs it accepts, and (where torch is installed) equality with onnxruntime.

PyTorch is not a dependency and is absent in CI; the equality test then skips. On the GPU machine it
ran through bench/device_torch_check.py (78 dB PSNR against onnxruntime fp32 on a real 1080p image).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from kizunasr_vs.inference.torch_backend import TorchBackendError, check_supported, fold_shapes, needs_folding
from tests.conftest import shared_model
from tests.inference.test_onnx import _ort_direct


def _strided_model() -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="down", strides=[2, 2], pads=[1, 1, 1, 1])
    unsupported = helper.make_node("Softmax", ["y"], ["z"], name="soft")
    graph = helper.make_graph([node, unsupported], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [weight])
    return helper.make_model(graph)


def test_compact_models_are_supported() -> None:
    for name in ("2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx", "2x_AnimeJaNai_HD_V3_Compact-fp32.onnx"):
        check_supported(onnx.load(str(shared_model(name))))


def test_unsupported_op_is_named() -> None:
    with pytest.raises(TorchBackendError, match="node 'soft' \\(op Softmax\\)"):
        check_supported(_strided_model())


SPAN = "2x_AnimeJaNai_HD_V3.1_Performance_SPANF3_b5f48_unshuffle_fp16.onnx"


def test_span_models_are_supported_once_their_shapes_are_folded() -> None:
    model = onnx.load(str(shared_model(SPAN)))
    assert needs_folding(model)
    with pytest.raises(TorchBackendError, match="op Shape"):
        check_supported(model)
    folded = fold_shapes(model, 3, 24, 34)  # 34: not a multiple of SPAN's padding
    assert not needs_folding(folded)
    check_supported(folded)
    # the folded graph computes what the original computes, at that size (onnxruntime on both)
    x = np.random.default_rng(1).random((3, 24, 34), dtype=np.float32).astype(np.float16)
    outputs = [_ort_direct(graph.SerializeToString(), x) for graph in (model, folded)]
    assert outputs[0].shape == (3, 48, 68)
    assert np.array_equal(outputs[0], outputs[1])


def test_module_matches_onnxruntime() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is optional and not installed here")
    from kizunasr_vs.inference.torch_backend import build_module

    path = shared_model("2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx")
    x = np.random.default_rng(0).random((1, 3, 24, 32), dtype=np.float32)
    want = _ort_direct(path, x[0])[None]
    with torch.inference_mode():
        got = build_module(onnx.load(str(path)))(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 1e-4


def test_folded_span_module_matches_onnxruntime() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is optional and not installed here")
    from kizunasr_vs.inference.torch_backend import build_module

    model = onnx.load(str(shared_model(SPAN)))
    x = np.random.default_rng(2).random((1, 3, 24, 34), dtype=np.float32)
    want = _ort_direct(model.SerializeToString(), x[0].astype(np.float16))[None].astype(np.float32)
    with torch.inference_mode():
        got = build_module(fold_shapes(model, 3, 24, 34))(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 2e-2  # the model's fp16 weights, run in fp32 here
