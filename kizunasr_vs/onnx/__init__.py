"""Running ONNX image models on clips: the filter, onnxruntime sessions, the optional torch backend, tiling, the
graph rewrites (fp16, plane and YUV input/output) and the measured choice between backends.

The filter users call is ``kizunasr_vs.onnx`` (``models.api``, which resolves registry names first).
"""
