"""GLSL -> SPIR-V through shaderc, the compiler libplacebo itself compiles user shaders with.

Used to count a shader's arithmetic (``render.macs``), never to render. The library is the one the vs-placebo
wheel bundles (``vs_placebo.libs/libshaderc_shared-<hash>.so.1``, opened once the plugin has loaded its
dependencies), else the system's ``libshaderc_shared`` (Debian: libshaderc1). Only shaderc's stable C API is
used: compile one stage for Vulkan 1.2, unoptimised (loops and calls stay as written), names kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from ctypes import c_char_p, c_int, c_size_t, c_uint32, c_void_p
from pathlib import Path
from typing import Literal

from kizunasr_vs.core.errors import KizunaError

Stage = Literal["fragment", "compute"]
_KIND = {"fragment": 1, "compute": 2}  # shaderc_shader_kind
_TARGET_VULKAN = 0  # shaderc_target_env_vulkan
_VULKAN_1_2 = (1 << 22) | (2 << 12)  # shaderc_env_version_vulkan_1_2
_OPT_ZERO = 0  # shaderc_optimization_level_zero


class ShadercError(KizunaError, RuntimeError):
    """No shaderc library, or a shader that does not compile (the compiler's message)."""


class Shaderc:
    """One shaderc compiler (calls are serialised: counting is not a hot path)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        for name, restype, argtypes in (
            ("shaderc_compiler_initialize", c_void_p, []),
            ("shaderc_compile_options_initialize", c_void_p, []),
            ("shaderc_compile_options_set_target_env", None, [c_void_p, c_int, c_uint32]),
            ("shaderc_compile_options_set_optimization_level", None, [c_void_p, c_int]),
            ("shaderc_compile_into_spv", c_void_p, [c_void_p, c_char_p, c_size_t, c_int, c_char_p, c_char_p,
                                                    c_void_p]),
            ("shaderc_result_get_compilation_status", c_int, [c_void_p]),
            ("shaderc_result_get_error_message", c_char_p, [c_void_p]),
            ("shaderc_result_get_length", c_size_t, [c_void_p]),
            ("shaderc_result_get_bytes", c_void_p, [c_void_p]),
            ("shaderc_result_release", None, [c_void_p]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        self._lib = lib
        self._compiler = lib.shaderc_compiler_initialize()
        self._options = lib.shaderc_compile_options_initialize()
        if not self._compiler or not self._options:
            raise ShadercError("shaderc: could not create a compiler")
        lib.shaderc_compile_options_set_target_env(self._options, _TARGET_VULKAN, _VULKAN_1_2)
        lib.shaderc_compile_options_set_optimization_level(self._options, _OPT_ZERO)
        self._lock = threading.Lock()

    def compile(self, source: str, stage: Stage, name: str = "shader") -> list[int]:
        """The SPIR-V words of ``source`` (a whole stage with ``main``); ShadercError with the compiler's
        message when it does not compile."""
        text = source.encode()
        lib = self._lib
        with self._lock:
            result = lib.shaderc_compile_into_spv(self._compiler, text, len(text), _KIND[stage], name.encode(),
                                                  b"main", self._options)
            try:
                if lib.shaderc_result_get_compilation_status(result) != 0:
                    message = (lib.shaderc_result_get_error_message(result) or b"").decode(errors="replace")
                    raise ShadercError(message.strip() or "shaderc: compilation failed")
                size = lib.shaderc_result_get_length(result)
                data = ctypes.string_at(lib.shaderc_result_get_bytes(result), size)
            finally:
                lib.shaderc_result_release(result)
        return list(memoryview(data).cast("I"))


def _vs_placebo_library() -> Path | None:
    """vs-placebo's bundled libshaderc, after loading the plugin (which loads libglslang and the rest it needs)."""
    try:
        import vapoursynth as vs

        plugin = Path(vs.core.placebo.plugin_path)
    except (ImportError, AttributeError):
        return None
    found = sorted((plugin.parent.parent.parent / "vs_placebo.libs").glob("libshaderc_shared*.so*"))
    return found[0] if found else None


@functools.cache
def compiler() -> Shaderc:
    """The process's compiler; ShadercError (saying what to install) when no shaderc library loads."""
    candidates = [str(p) for p in (_vs_placebo_library(),) if p is not None]
    system = ctypes.util.find_library("shaderc_shared")
    candidates += [system] if system else []
    errors = []
    for path in candidates:
        try:
            return Shaderc(ctypes.CDLL(path))
        except (OSError, AttributeError) as exc:
            errors.append(f"{path}: {exc}")
    raise ShadercError("no shaderc library to compile GLSL with: install vs-placebo (its wheel bundles one) or "
                       "Debian's libshaderc1" + (f" ({'; '.join(errors)})" if errors else ""))
