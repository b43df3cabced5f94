"""ctypes bindings to the libplacebo that the vs-placebo wheel bundles: the few calls our renderer makes.

vs-placebo ships libplacebo as a shared library (``vs_placebo.libs/libplacebo-<hash>.so.<API>``) and
loads it with its plugin, so the library is already in the process once ``core.placebo`` exists.
libplacebo has no stable ABI: the struct layouts below are those of its public headers for the API
versions in ``SUPPORTED_API`` (offsets read with ``offsetof`` from the 7.360 headers, and the sizes of
the library's own default-parameter objects checked against them; ``pl_frame`` differs in 7.371, see
``Frame``). ``load()`` also checks, at run
time, that the pointer fields of ``pl_render_default_params`` sit where these layouts say; anything
else makes ``load()`` return ``None`` (``status()`` says why) and callers fall back to vs-placebo's own filter.

Structs that are only passed in are allocated with ``SPARE`` zero bytes after them, so a field a
newer header appends reads as zero (its default) rather than as whatever memory follows.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import re
import threading
from ctypes import POINTER, c_bool, c_char_p, c_float, c_int, c_size_t, c_uint8, c_uint64, c_void_p
from pathlib import Path
from typing import Any

import vapoursynth as vs

SUPPORTED_API = frozenset({371})  # libplacebo v7.371, which vs-placebo 2.0.4 bundles
PINNED_VS_PLACEBO = "2.0.4"  # pyproject pins it: the build whose libplacebo these layouts describe
FIX = ("shaders render through vs-placebo's own filter instead, one frame at a time; for the direct renderer "
       f"install the pinned build: pip install 'vs-placebo=={PINNED_VS_PLACEBO}'")
SPARE = 256

PL_LOG_ERR = 2
PL_FMT_UNORM = 1
PL_BUF_MEM_HOST = 1
PL_COLOR_LEVELS_LIMITED, PL_COLOR_LEVELS_FULL = 1, 2


class LogParams(ctypes.Structure):
    _fields_ = [("log_cb", c_void_p), ("log_priv", c_void_p), ("log_level", c_int)]


class BitEncoding(ctypes.Structure):
    _fields_ = [("sample_depth", c_int), ("color_depth", c_int), ("bit_shift", c_int)]


class ColorRepr(ctypes.Structure):
    _fields_ = [("sys", c_int), ("levels", c_int), ("alpha", c_int), ("bits", BitEncoding), ("dovi", c_void_p)]


class ColorSpace(ctypes.Structure):
    _fields_ = [("primaries", c_int), ("transfer", c_int), ("hdr", c_uint8 * 148)]


class Plane(ctypes.Structure):
    _fields_ = [("texture", c_void_p), ("address_mode", c_int), ("flipped", c_bool), ("components", c_int),
                ("component_mapping", c_int * 4), ("shift_x", c_float), ("shift_y", c_float)]


class Frame(ctypes.Structure):
    # API 371 has 8 bytes more than the 7.360 header between `planes` and `repr` (field, prev/next, acquire/
    # release: all 0 here): `repr` is at 248, as pl_frame_set_chroma_location and pl_frame_clear_rgba read it.
    _fields_ = [("num_planes", c_int), ("planes", Plane * 4), ("_gap", c_uint8 * 48), ("repr", ColorRepr),
                ("color", ColorSpace), ("_rest", c_uint8 * (736 - 436 + SPARE))]


class TexParams(ctypes.Structure):
    _fields_ = [("w", c_int), ("h", c_int), ("d", c_int), ("format", c_void_p), ("sampleable", c_bool),
                ("renderable", c_bool), ("storable", c_bool), ("blit_src", c_bool), ("blit_dst", c_bool),
                ("host_writable", c_bool), ("host_readable", c_bool), ("_rest", c_uint8 * (120 - 31 + SPARE))]


class BufParams(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("host_writable", c_bool), ("host_readable", c_bool), ("host_mapped", c_bool),
                ("_usage", c_bool * 3), ("memory_type", c_int), ("_rest", c_uint8 * (120 - 20 + SPARE))]


class TransferParams(ctypes.Structure):
    _fields_ = [("tex", c_void_p), ("rc", c_int * 6), ("row_pitch", c_size_t), ("depth_pitch", c_size_t),
                ("timer", c_void_p), ("callback", c_void_p), ("priv", c_void_p), ("buf", c_void_p),
                ("buf_offset", c_size_t), ("ptr", c_void_p), ("_rest", c_uint8 * (104 - 96 + SPARE))]


class PlaneData(ctypes.Structure):
    _fields_ = [("type", c_int), ("width", c_int), ("height", c_int), ("component_size", c_int * 4),
                ("component_pad", c_int * 4), ("component_map", c_int * 4), ("pixel_stride", c_size_t),
                ("row_stride", c_size_t), ("swapped", c_bool), ("pixels", c_void_p), ("buf", c_void_p),
                ("buf_offset", c_size_t), ("callback", c_void_p), ("priv", c_void_p), ("_spare", c_uint8 * SPARE)]


VULKAN_PARAMS_SIZE, VULKAN_ALLOW_SOFTWARE = 128, 64
RENDER_PARAMS_SIZE = 288
RENDER_UPSCALER, RENDER_DOWNSCALER, RENDER_SIGMOID, RENDER_HOOKS, RENDER_NUM_HOOKS = 0, 8, 56, 136, 144
# from the 7.365 headers (render params: 288 bytes there too); on 7.371 the pass-count test shows every pass
# reaching the callback (a wrong offset would not call it, or crash)
RENDER_INFO_CALLBACK, RENDER_INFO_PRIV = 240, 248
RENDER_INFO_PASS = 0  # pl_render_info.pass
# pl_dispatch_info: GPU ns of the pass's recent runs, their count, the last and the largest
DISPATCH_SAMPLES, DISPATCH_MAX_SAMPLES, DISPATCH_NUM_SAMPLES, DISPATCH_LAST, DISPATCH_PEAK = 16, 256, 2064, 2072, 2080
FILTER_CONFIG_SIZE, FILTER_FUNCTION_SIZE = 80, 40
FILTER_KERNEL, FILTER_CLAMP, FILTER_BLUR, FILTER_TAPER = 24, 60, 64, 68
FMT_NUM_COMPONENTS, FMT_TEXEL_SIZE = 24, 128  # pl_fmt_t
BUF_DATA = 120  # pl_buf_t.data
GPU_LIMITS = 48  # pl_gpu_t.limits
LIMITS_XFER_PITCH, LIMITS_XFER_OFFSET = 96, 104  # pl_gpu_limits.align_tex_xfer_pitch / _offset
# pl_render_default_params: offset of each pointer field -> the exported default object it points at.
_DEFAULT_POINTERS = {56: "pl_sigmoid_default_params", 64: "pl_color_adjustment_neutral",
                     72: "pl_peak_detect_default_params", 80: "pl_color_map_default_params",
                     88: "pl_dither_default_params"}

LOG_CB = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)
INFO_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)  # (priv, const struct pl_render_info *)


class Lib:
    """The loaded library with typed entry points, and helpers to read the few object fields we need."""

    def __init__(self, cdll: ctypes.CDLL, api: int) -> None:
        self.cdll, self.api = cdll, api
        f = cdll
        self.log_create = _fn(f[f"pl_log_create_{api}"], c_void_p, c_int, POINTER(LogParams))  # (api_ver, params)
        self.vulkan_create = _fn(f.pl_vulkan_create, c_void_p, c_void_p, c_void_p)
        self.renderer_create = _fn(f.pl_renderer_create, c_void_p, c_void_p, c_void_p)
        self.renderer_destroy = _fn(f.pl_renderer_destroy, None, POINTER(c_void_p))
        self.shader_parse = _fn(f.pl_mpv_user_shader_parse, c_void_p, c_void_p, c_char_p, c_size_t)
        self.shader_destroy = _fn(f.pl_mpv_user_shader_destroy, None, POINTER(c_void_p))
        self.plane_find_fmt = _fn(f.pl_plane_find_fmt, c_void_p, c_void_p, c_void_p, POINTER(PlaneData))
        self.tex_create = _fn(f.pl_tex_create, c_void_p, c_void_p, POINTER(TexParams))
        self.tex_recreate = _fn(f.pl_tex_recreate, c_bool, c_void_p, POINTER(c_void_p), POINTER(TexParams))
        self.tex_destroy = _fn(f.pl_tex_destroy, None, c_void_p, POINTER(c_void_p))
        self.tex_download = _fn(f.pl_tex_download, c_bool, c_void_p, POINTER(TransferParams))
        self.upload_plane = _fn(f.pl_upload_plane, c_bool, c_void_p, POINTER(Plane), POINTER(c_void_p),
                                POINTER(PlaneData))
        self.buf_create = _fn(f.pl_buf_create, c_void_p, c_void_p, POINTER(BufParams))
        self.buf_destroy = _fn(f.pl_buf_destroy, None, c_void_p, POINTER(c_void_p))
        self.buf_poll = _fn(f.pl_buf_poll, c_bool, c_void_p, c_void_p, c_uint64)
        self.gpu_flush = _fn(f.pl_gpu_flush, None, c_void_p)
        self.render_image = _fn(f.pl_render_image, c_bool, c_void_p, POINTER(Frame), POINTER(Frame), c_void_p)

    def symbol(self, name: str) -> int:
        """Address of an exported data object."""
        return ctypes.addressof(c_uint8.in_dll(self.cdll, name))


def _fn(func: Any, restype: object, *argtypes: object) -> Any:
    func.restype = restype
    func.argtypes = argtypes
    return func


def read_pointer(address: int, offset: int) -> int:
    return c_void_p.from_address(address + offset).value or 0


def read_size(address: int, offset: int) -> int:
    return c_size_t.from_address(address + offset).value


_lock = threading.Lock()


def load() -> Lib | None:
    """vs-placebo's libplacebo, or None when it is missing or of an API whose layouts we do not know
    (``status()`` says which and what to do)."""
    return _load()[0]


def status() -> str:
    """Why the direct renderer can or cannot run here, in one line (with what to do where it cannot)."""
    return _load()[1]


@functools.cache
def _load() -> tuple[Lib | None, str]:
    with _lock:
        try:
            plugin = Path(vs.core.placebo.plugin_path)  # loading the plugin loads libplacebo and its needs
        except AttributeError:
            return None, f"the vs-placebo plugin is not loaded: {FIX}"
        candidates = sorted((plugin.parent.parent.parent / "vs_placebo.libs").glob("libplacebo*.so*"))
        if not candidates:
            return None, f"no libplacebo next to the vs-placebo plugin {plugin}: {FIX}"
        path = candidates[0]
        match = re.search(r"\.so\.(\d+)", path.name)
        api = int(match.group(1)) if match else -1
        if api not in SUPPORTED_API:
            return None, (f"vs-placebo's {path.name} has libplacebo API {api}; the direct renderer's struct layouts "
                          f"are those of API {', '.join(map(str, sorted(SUPPORTED_API)))}: {FIX}")
        try:
            lib = Lib(ctypes.CDLL(str(path)), api)
            defaults = lib.symbol("pl_render_default_params")
            misplaced = [name for offset, name in _DEFAULT_POINTERS.items()
                         if read_pointer(defaults, offset) != lib.symbol(name)]
        except (OSError, AttributeError, ValueError) as exc:  # not loadable, or a symbol missing
            return None, f"{path.name}: {exc}: {FIX}"
        if misplaced:
            return None, (f"{path.name} does not have the struct layout the direct renderer expects (no pointer to "
                          f"{', '.join(misplaced)} where expected in pl_render_default_params): {FIX}")
        return lib, f"vs-placebo {_installed()}'s libplacebo (API {api}) has the layouts the direct renderer knows"


def _installed() -> str:
    try:
        return importlib.metadata.version("vs-placebo")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
