"""On the lent GPU: the torch backend's CUDA-graph capture (`record_graph`) replays what eager runs compute.

A plain Conv-ReLU-Conv-DepthToSpace model (the torch backend refuses our learned shaders' ONNX: its edge padding
exports ConstantOfShape), captured once, replayed on three fresh inputs, each compared with an eager run.
Needs torch, onnx and numpy only (no onnxruntime, no VapourSynth).
Usage there: source scripts/device_env.sh; python3 bench/device_record_graph_check.py
"""

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

from kizunasr_vs.inference.torch_backend import prepared_module, record_graph

rng = np.random.default_rng(0)
w1, w2 = (rng.normal(0, 0.3, s).astype(np.float32) for s in ((8, 3, 3, 3), (12, 8, 3, 3)))
graph = helper.make_graph(
    [helper.make_node("Conv", ["x", "w1"], ["h"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["h"], ["r"]),
     helper.make_node("Conv", ["r", "w2"], ["c"], pads=[1, 1, 1, 1]),
     helper.make_node("DepthToSpace", ["c"], ["y"], blocksize=2, mode="CRD")],
    "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 270, 480])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 540, 960])],
    [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
gpu = torch.device("cuda", 0)
module = prepared_module(model, 3, 270, 480, gpu)
stream = torch.cuda.Stream(gpu)
with torch.inference_mode():
    x = torch.rand((1, 3, 270, 480), device=gpu).half().contiguous(memory_format=torch.channels_last)
    graph_, y = record_graph(module, x, stream)
    for trial in range(3):
        x.copy_(torch.rand_like(x))
        with torch.cuda.stream(stream):
            graph_.replay()
        stream.synchronize()
        eager = module(x)
        torch.cuda.synchronize()
        print(f"record_graph trial {trial}: shape {tuple(y.shape)}, max |graph - eager| "
              f"{(y.float() - eager.float()).abs().max().item():.3g}, output range "
              f"{y.min().item():.3f}..{y.max().item():.3f}")
