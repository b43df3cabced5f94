"""Running mpv/libplacebo GLSL user shaders on clips: the ``shader()`` filter (``placebo``), our own libplacebo
renderer and its ctypes bindings, and the shader-text parser and merger they share.

The filter itself is ``kizunasr_vs.shader`` (the package's ``__init__`` binds that name to the function).
"""
