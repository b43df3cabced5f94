"""Rendering mpv/libplacebo GLSL user shaders on clips: the ``shader()`` filter (``placebo``), our own libplacebo
renderer and its ctypes bindings, and the shader-text parser and merger they share. ``macs`` counts a shader's
multiply-adds per source pixel from its passes (compiled by ``shaderc``, read by ``spirv``).

Users call the filter as ``kizunasr_vs.shader``.
"""
