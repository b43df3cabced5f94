"""Running ONNX image models on clips: the filter, onnxruntime sessions, the optional torch backend, tiling, the
graph rewrites (fp16, plane and YUV input/output) and the measured choice between backends.

Users call the filter as ``kizunasr_vs.onnx`` (``models.api``, which resolves registry names first).
"""
