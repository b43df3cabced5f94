"""The ONNX -> GLSL compiler (``glsl``: graph normalisation, pass emission) and the cache of compiled shaders.

It turns small conv nets into mpv user shaders, which the ``shader`` room or mpv then run; it runs nothing itself.
"""
