"""Small 2x networks trained here and shipped as mpv shaders through our ONNX->GLSL compiler.

``kizunasr train`` builds (HR, degraded LR) luma pairs on the fly (``degrade``, ``lineart``, ``data``), trains a
tiny network of the tiers in ``arch`` (conv 3x3, PReLU, a nearest skip, depth-to-space: only ops the compiler
handles), keeps resumable checkpoints (``loop``) and exports ONNX, then GLSL checked against the ONNX
(``export``). PyTorch comes with the ``torch`` extra; nothing here is imported by the rest of the package.
"""
