"""Rendering mpv/libplacebo GLSL user shaders on clips: the ``shader()`` filter (``placebo``), our own libplacebo
renderer and its ctypes bindings, and the shader-text parser and merger they share.

Users call the filter as ``kizunasr_vs.shader``.
"""
