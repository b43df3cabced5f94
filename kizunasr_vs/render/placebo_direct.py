"""Our own libplacebo renderer for ``kizunasr_vs.shader``: what ``placebo.Shader`` does, with frames in flight.

vs-placebo's ``Shader`` uploads, renders and downloads each frame under one lock, into a buffer it
allocates per frame, so one filter works on one frame at a time and the GPU idles while the host
copies (docs/BENCHMARKS.md compares the two). This renderer makes the same
libplacebo calls with the same parameters (so the output is the same, bit for bit), but:

* one Vulkan device per process, shared by every stream;
* each stream owns a renderer, a parsed hook, its textures and two persistent host-mapped buffers:
  frames are copied into one and uploaded from it, and downloaded into the other without blocking;
* ``streams`` interleaved branches of the clip each run one stream, so that many frames are being
  uploaded, rendered and downloaded at once (VapourSynth runs one ``ModifyFrame`` callback per
  branch at a time; ctypes releases the GIL while libplacebo works);
* the packed download is copied row by row into a GRAY16 frame, and zimg splits it into planes.

Input is ``YUV444P16`` (as for ``placebo.Shader``), output ``YUV444P16`` of the given size with the
input frame's props.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import logging
import threading
import time
from collections.abc import Iterator
from ctypes import byref, c_float, c_int, c_uint64, c_void_p
from dataclasses import dataclass

import numpy as np
import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError
from kizunasr_vs.render import libplacebo as pl

log = logging.getLogger("kizunasr")

DEFAULT_STREAMS = 4  # frames in flight; more gain nothing (docs/BENCHMARKS.md, shader filter)
MAX_STREAMS = 16
_POLL_S = 0.002  # sleep between polls of a busy buffer (each poll takes the device lock)
_TIMEOUT_S = 120.0  # a download that takes longer than this is reported as a hang
_recent_errors: collections.deque[str] = collections.deque(maxlen=8)
FRAME_TIME = "shader"  # the filter errors raised while frames render (outside the shader() call) name


@dataclass(frozen=True)
class Colors:
    """The colour arguments ``placebo.Shader`` takes, with the same meaning."""

    matrix: int  # pl_color_system
    trc: int  # pl_color_transfer
    levels: int  # pl_color_levels


class _Device:
    """The process's libplacebo log and Vulkan device (never destroyed: streams of live clips use it).

    libplacebo's messages arrive through its log callback: logged as errors, or collected by ``capture()``."""

    def __init__(self, lib: pl.Lib) -> None:
        self.lib = lib
        self._captured: list[str] | None = None
        self._log_cb = pl.LOG_CB(self._on_log)  # kept alive as long as the log
        params = pl.LogParams(log_cb=ctypes.cast(self._log_cb, c_void_p).value, log_level=pl.PL_LOG_ERR)
        self.log = lib.log_create(lib.api, byref(params))
        vk_params = (ctypes.c_uint8 * (pl.VULKAN_PARAMS_SIZE + pl.SPARE))()
        ctypes.memmove(vk_params, lib.symbol("pl_vulkan_default_params"), pl.VULKAN_PARAMS_SIZE)
        ctypes.c_bool.from_buffer(vk_params, pl.VULKAN_ALLOW_SOFTWARE).value = True  # as vs-placebo: lavapipe too
        self.vk = lib.vulkan_create(self.log, ctypes.addressof(vk_params))
        if not self.vk:
            raise FilterError("libplacebo could not create a Vulkan device "
                              f"({'; '.join(_recent_errors) or 'no message'}); check `vulkaninfo --summary`")
        self.gpu = pl.read_pointer(self.vk, 0)
        # libplacebo crashes when called from several threads at once (pl_render_image on separate renderers, or
        # next to pl_buf_poll), though pl_gpu says it is thread-safe: every call on a stream holds this lock.
        self.lock = threading.RLock()  # re-entrant: a Stream collected inside a locked call frees under it
        limits = self.gpu + pl.GPU_LIMITS
        self.pitch_align = max(4, pl.read_size(limits, pl.LIMITS_XFER_PITCH))
        self.offset_align = max(256, pl.read_size(limits, pl.LIMITS_XFER_OFFSET))

    def _on_log(self, _priv: int | None, _level: int, message: bytes | None) -> None:
        text = (message or b"").decode(errors="replace")
        captured = self._captured
        if captured is not None:
            captured.append(text)
            return
        _recent_errors.append(text)
        log.error("libplacebo: %s", text)

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Hold the device and collect every message libplacebo logs meanwhile into the yielded list, instead of
        logging it (every call on the device holds its lock, so the messages are those of the caller's calls)."""
        with self.lock:
            captured: list[str] = []
            self._captured = captured
            try:
                yield captured
            finally:
                self._captured = None


_device_lock = threading.Lock()
_device: _Device | None = None


def _get_device(lib: pl.Lib) -> _Device:
    global _device
    with _device_lock:
        if _device is None:
            _device = _Device(lib)
        return _device


def available() -> bool:
    """Whether the direct renderer can run here (vs-placebo's libplacebo of a known layout)."""
    return pl.load() is not None


def _align(value: int, to: int) -> int:
    return -(-value // to) * to


class GpuTimer:
    """GPU time of every libplacebo pass of the renders made while it is active (``gpu_timing()``).

    libplacebo times each pass with GPU timer queries and reports the last finished run of that pass, which
    lags a few frames behind: render some frames, ``reset()``, then read the sums over many more. Every report
    is checked against the layout (its peak must be the largest of its samples); ``ms()`` raises otherwise."""

    def __init__(self, plain_scaling: bool = False) -> None:
        self._lock = threading.Lock()
        self.plain_scaling = plain_scaling  # renders scale with bilinear and no sigmoid (see gpu_timing)
        self.callback = pl.INFO_CB(self._on_pass)
        self.layout_error = ""
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.ns = 0  # summed GPU time of every timed pass
            self.passes = 0
            self.untimed = 0  # passes reported before their first timer sample

    def _on_pass(self, _priv: int | None, info: int | None) -> None:
        if not info:
            return
        dispatch = pl.read_pointer(info, pl.RENDER_INFO_PASS)
        if not dispatch:
            return
        count = c_int.from_address(dispatch + pl.DISPATCH_NUM_SAMPLES).value
        last, peak = (c_uint64.from_address(dispatch + offset).value
                      for offset in (pl.DISPATCH_LAST, pl.DISPATCH_PEAK))
        with self._lock:
            self.passes += 1
            if not 0 <= count <= pl.DISPATCH_MAX_SAMPLES:
                self.layout_error = f"a pass reported {count} timer samples"
            elif count == 0:
                self.untimed += 1
            else:
                samples = (c_uint64 * count).from_address(dispatch + pl.DISPATCH_SAMPLES)
                if max(samples) != peak:
                    self.layout_error = "a pass's peak time is not the largest of its samples"
                self.ns += last

    def ms(self) -> float:
        """GPU milliseconds summed over the passes since ``reset()``."""
        with self._lock:
            if self.layout_error:
                raise FilterError(f"libplacebo's pass timings do not have the expected layout "
                                  f"({self.layout_error})")
            return self.ns / 1e6


_active_timer: GpuTimer | None = None


@contextlib.contextmanager
def gpu_timing(plain_scaling: bool = False) -> Iterator[GpuTimer]:
    """Streams created inside report every pass to the yielded timer (a Python call per pass: for benches; the
    streams keep reporting to it for their life). Nested, the inner timer applies inside and the outer after.
    ``plain_scaling``: those streams scale with bilinear and no sigmoid instead of vs-placebo's EWA Lanczos, so
    that the player's own scaling (a luma doubler's chroma planes go to the output size) stays small and equal
    for every shader measured."""
    global _active_timer
    outer, timer = _active_timer, GpuTimer(plain_scaling)
    _active_timer = timer
    try:
        yield timer
    finally:
        _active_timer = outer


STAGES = ("stage", "lock_wait", "upload", "draw", "download_wait", "copy_out")


class StageTimes:
    """Host time of each step of a frame (``STAGES``), summed over the frames of the streams created while
    ``stage_timing()`` was active: where a frame's wall time goes, for benches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.frames = 0

    def add(self, times: list[float]) -> None:
        """One frame's ``perf_counter()`` readings at the start and after each stage."""
        with self._lock:
            for key, start, end in zip(STAGES, times, times[1:], strict=False):
                self.seconds[key] += end - start
            self.frames += 1

    def ms_per_frame(self) -> dict[str, float]:
        with self._lock:
            return {key: 1000 * value / max(1, self.frames) for key, value in self.seconds.items()}


_active_stages: StageTimes | None = None


@contextlib.contextmanager
def stage_timing() -> Iterator[StageTimes]:
    """Streams created inside add their frames' stage times to the yielded ``StageTimes`` (for their life)."""
    global _active_stages
    outer, stages = _active_stages, StageTimes()
    _active_stages = stages
    try:
        yield stages
    finally:
        _active_stages = outer


class _RenderParams:
    """``pl_render_params`` as vs-placebo's Shader fills it: one hook, default sigmoid, ewa_lanczos scalers
    (a copy with clamp, blur and taper at 0), everything else 0; under ``gpu_timing(plain_scaling=True)``
    bilinear scalers and no sigmoid."""

    def __init__(self, lib: pl.Lib, hook: int) -> None:
        self.timer = _active_timer  # kept alive with its callback as long as these params
        plain = self.timer is not None and self.timer.plain_scaling
        self.kernel = (ctypes.c_uint8 * pl.FILTER_FUNCTION_SIZE)()
        self.filter = (ctypes.c_uint8 * (pl.FILTER_CONFIG_SIZE + pl.SPARE))()
        ctypes.memmove(self.filter, lib.symbol("pl_filter_bilinear" if plain else "pl_filter_ewa_lanczos"),
                       pl.FILTER_CONFIG_SIZE)
        ctypes.memmove(self.kernel, pl.read_pointer(ctypes.addressof(self.filter), pl.FILTER_KERNEL),
                       pl.FILTER_FUNCTION_SIZE)
        c_void_p.from_buffer(self.filter, pl.FILTER_KERNEL).value = ctypes.addressof(self.kernel)
        for offset in (pl.FILTER_CLAMP, pl.FILTER_BLUR, pl.FILTER_TAPER):
            c_float.from_buffer(self.filter, offset).value = 0.0
        self.hooks = (c_void_p * 1)(hook)
        self.raw = (ctypes.c_uint8 * (pl.RENDER_PARAMS_SIZE + pl.SPARE))()
        for offset, value in ((pl.RENDER_UPSCALER, ctypes.addressof(self.filter)),
                              (pl.RENDER_DOWNSCALER, ctypes.addressof(self.filter)),
                              (pl.RENDER_SIGMOID, None if plain else lib.symbol("pl_sigmoid_default_params")),
                              (pl.RENDER_HOOKS, ctypes.addressof(self.hooks))):
            c_void_p.from_buffer(self.raw, offset).value = value
        c_int.from_buffer(self.raw, pl.RENDER_NUM_HOOKS).value = 1
        if self.timer is not None:
            c_void_p.from_buffer(self.raw, pl.RENDER_INFO_CALLBACK).value = \
                ctypes.cast(self.timer.callback, c_void_p).value


class Stream:
    """One frame at a time through libplacebo: a renderer, a hook, textures and two host-mapped buffers."""

    def __init__(self, device: _Device, text: str, in_size: tuple[int, int], out_size: tuple[int, int],
                 colors: Colors) -> None:
        self.dev, self.lib = device, device.lib
        self._lock = threading.Lock()
        self.stage_times = _active_stages
        self.in_w, self.in_h = in_size
        self.out_w, self.out_h = out_size
        self.rr, self.hook, self.tex_out, self.up, self.down = (c_void_p() for _ in range(5))
        self.tex_in = (c_void_p * 3)()
        self.repr = pl.ColorRepr(sys=colors.matrix, levels=colors.levels, bits=pl.BitEncoding(16, 16, 0))
        self.color = pl.ColorSpace(transfer=colors.trc)
        with device.lock:
            try:
                self._create(text)
            except vs.Error:
                self._free()
                raise

    def _create(self, text: str) -> None:
        lib, dev = self.lib, self.dev
        self.rr.value = lib.renderer_create(dev.log, dev.gpu)
        encoded = text.encode()
        self.hook.value = lib.shader_parse(dev.gpu, encoded, len(encoded))
        if not self.rr or not self.hook:
            raise FilterError(f"libplacebo could not parse the shader ({'; '.join(_recent_errors) or '?'})")
        self.params = _RenderParams(lib, self.hook.value or 0)

        self.in_pitch = _align(self.in_w * 2, dev.pitch_align)
        self.plane_bytes = _align(self.in_pitch * self.in_h, dev.offset_align)
        self.up.value = self._buffer(3 * self.plane_bytes, writable=True)
        self._plan_upload()
        packed = pl.PlaneData(type=pl.PL_FMT_UNORM, pixel_stride=6)  # vs-placebo's output: packed 3 x 16 bit
        packed.component_size[:3] = [16, 16, 16]
        packed.component_map[:3] = [0, 1, 2]
        fmt = lib.plane_find_fmt(dev.gpu, None, byref(packed))
        if not fmt:
            raise FilterError("the GPU has no 3 x 16-bit texture format to render into")
        self.components = ctypes.c_int.from_address(fmt + pl.FMT_NUM_COMPONENTS).value
        self.texel = pl.read_size(fmt, pl.FMT_TEXEL_SIZE)
        self.samples = self.texel // 2  # 16-bit values per output pixel
        self.latency = 0.0  # moving average of the download wait, seconds
        self.tex_out.value = lib.tex_create(dev.gpu, byref(pl.TexParams(
            w=self.out_w, h=self.out_h, format=fmt, renderable=True, host_readable=True)))
        self.out_pitch = _align(self.out_w * self.texel, dev.pitch_align)
        self.down.value = self._buffer(self.out_pitch * self.out_h, writable=False)
        if not self.tex_out or not self.up or not self.down:
            raise FilterError(f"could not allocate GPU textures or host buffers for {self.out_w}x{self.out_h}")
        up_view = self._view(self.up, (3, self.plane_bytes // 2))
        self.staged = [up_view[p, :self.in_pitch // 2 * self.in_h].reshape(self.in_h, -1) for p in range(3)]
        self.down_view = self._view(self.down, (self.out_h, self.out_pitch // 2))

    def _buffer(self, size: int, writable: bool) -> int:
        params = pl.BufParams(size=size, host_writable=writable, host_readable=not writable, host_mapped=True,
                              memory_type=pl.PL_BUF_MEM_HOST)
        return self.lib.buf_create(self.dev.gpu, byref(params)) or 0

    @staticmethod
    def _view(buf: c_void_p, shape: tuple[int, int]) -> np.ndarray:
        data = pl.read_pointer(buf.value or 0, pl.BUF_DATA)
        array = (ctypes.c_uint16 * (shape[0] * shape[1])).from_address(data)
        return np.ctypeslib.as_array(array).reshape(shape)

    def _wait(self, buf: c_void_p, what: str, first_sleep: float = 0.0) -> None:
        """Until the GPU is done with ``buf``: polls without blocking under the device lock (a pl_buf_poll
        that waits while another thread renders crashes libplacebo), sleeping in between; the first sleep
        (the expected latency) saves polls, each of which takes the lock and the GIL."""
        start = time.monotonic()
        time.sleep(first_sleep)
        while True:
            with self.dev.lock:
                if not self.lib.buf_poll(self.dev.gpu, buf, 0):
                    return
            if time.monotonic() - start > _TIMEOUT_S:
                raise FilterError(f"the GPU did not finish the {what} within {_TIMEOUT_S:.0f} s", FRAME_TIME)
            time.sleep(_POLL_S)

    def render(self, src: list[np.ndarray], packed: np.ndarray) -> None:
        """Run the hook on the three ``src`` planes (uint16) into ``packed``: ``samples`` values per pixel
        (Y, Cb, Cr[, pad]) as the GPU wrote them; ``split_packed`` turns them into planes."""
        with self._lock:
            times = [time.perf_counter()]
            self._stage(src)  # the last download finished, so did the upload before it: the buffer is free
            times.append(time.perf_counter())
            with self.dev.lock:
                times.append(time.perf_counter())
                self._upload()
                times.append(time.perf_counter())
                self._draw()
                times.append(time.perf_counter())
            self._wait(self.down, "download", first_sleep=0.8 * self.latency)
            times.append(time.perf_counter())
            self.latency = 0.8 * self.latency + 0.2 * (times[5] - times[4])
            np.copyto(packed, self.down_view[:, :self.out_w * self.samples])
            times.append(time.perf_counter())
            if self.stage_times is not None:
                self.stage_times.add(times)

    def _stage(self, src: list[np.ndarray]) -> None:
        """Copy the planes into the upload buffer (rows ``in_pitch`` apart, planes ``plane_bytes`` apart)."""
        for p in range(3):
            np.copyto(self.staged[p][:, :self.in_w], src[p])

    def _plan_upload(self) -> None:
        """What every upload passes: each plane's data (in the upload buffer) and texture parameters."""
        self.plane_data, self.tex_params = [], []
        for p in range(3):
            data = pl.PlaneData(type=pl.PL_FMT_UNORM, width=self.in_w, height=self.in_h, pixel_stride=2,
                                row_stride=self.in_pitch, buf=self.up.value, buf_offset=p * self.plane_bytes)
            data.component_size[0] = 16
            data.component_map[0] = p
            fmt = self.lib.plane_find_fmt(self.dev.gpu, None, byref(data))
            if not fmt:
                raise FilterError("the GPU has no 16-bit texture format to upload planes to")
            self.plane_data.append(data)
            self.tex_params.append(pl.TexParams(w=self.in_w, h=self.in_h, format=fmt, sampleable=True,
                                                host_writable=True))

    def _upload(self) -> None:
        lib, gpu = self.lib, self.dev.gpu
        self.planes = (pl.Plane * 3)()
        for p in range(3):
            slot = ctypes.pointer(c_void_p.from_buffer(self.tex_in, p * ctypes.sizeof(c_void_p)))
            if not lib.tex_recreate(gpu, slot, byref(self.tex_params[p])) or \
                    not lib.upload_plane(gpu, byref(self.planes[p]), slot, byref(self.plane_data[p])):
                raise FilterError(f"uploading plane {p} to the GPU failed ({'; '.join(_recent_errors) or '?'})",
                                  FRAME_TIME)

    def _draw(self) -> None:
        lib = self.lib
        image = pl.Frame(num_planes=3, repr=self.repr, color=self.color)
        for p in range(3):
            image.planes[p] = self.planes[p]
        target = pl.Frame(num_planes=1, repr=self.repr, color=self.color)
        target.planes[0].texture = self.tex_out.value
        target.planes[0].components = self.components
        target.planes[0].component_mapping[:] = [0, 1, 2, 3]
        if not lib.render_image(self.rr, byref(image), byref(target), ctypes.addressof(self.params.raw)):
            raise FilterError(f"libplacebo failed to render ({'; '.join(_recent_errors) or '?'})", FRAME_TIME)
        transfer = pl.TransferParams(tex=self.tex_out.value, row_pitch=self.out_pitch, buf=self.down.value)
        if not lib.tex_download(self.dev.gpu, byref(transfer)):
            raise FilterError("downloading the frame from the GPU failed", FRAME_TIME)
        lib.gpu_flush(self.dev.gpu)

    def close(self) -> None:
        """Free the GPU objects (the device stays)."""
        with self.dev.lock:
            self._free()

    def _free(self) -> None:
        lib, gpu = self.lib, self.dev.gpu
        for buf in (self.up, self.down):
            if buf.value:
                lib.buf_destroy(gpu, byref(buf))
        for p in range(3):
            slot = c_void_p(self.tex_in[p])
            if slot.value:
                lib.tex_destroy(gpu, byref(slot))
                self.tex_in[p] = None
        if self.tex_out.value:
            lib.tex_destroy(gpu, byref(self.tex_out))
        if self.rr.value:
            lib.renderer_destroy(byref(self.rr))
        if self.hook.value:
            lib.shader_destroy(byref(self.hook))

    def __del__(self) -> None:
        if hasattr(self, "tex_in"):
            self.close()


def _render_frame(n: int, f: list[vs.VideoFrame], stream: Stream) -> vs.VideoFrame:
    """ModifyFrame callback: render ``f[1]`` into a copy of the blank packed ``f[0]``."""
    blank, src = f
    out = blank.copy()
    stream.render([np.asarray(src[p]) for p in range(3)], np.asarray(out[0]))
    return out


def split_packed(packed: vs.VideoNode, samples: int) -> vs.VideoNode:
    """YUV444P16 from a GRAY16 clip holding ``samples`` values per pixel (Y, Cb, Cr[, pad]) side by side.

    Point resizing by 1/``samples`` with ``src_left`` c - (samples - 1) / 2 samples column ``samples * x + c``
    exactly (zimg, in C on VapourSynth's threads, where a numpy strided copy would hold the GIL on the frame
    path)."""
    width = packed.width // samples
    planes = [packed.resize.Point(width, packed.height, src_left=c - (samples - 1) / 2, src_width=packed.width)
              for c in range(3)]
    return vs.core.std.ShufflePlanes(planes, [0, 0, 0], vs.YUV)


@dataclass(frozen=True)
class Trial:
    """What libplacebo said while trying a shader: ``failed`` when it refused it outright (no render)."""

    failed: bool
    log: str


def trial_render(text: str, in_size: tuple[int, int], out_size: tuple[int, int], colors: Colors) -> Trial:
    """Parse ``text`` and render one mid-grey frame of ``in_size`` to ``out_size``, with libplacebo's messages
    collected through its log callback: a shader that fails to compile does not fail the render (libplacebo
    disables the hook), so its messages are the only sign. Needs ``available()``."""
    lib = pl.load()
    if lib is None:
        raise FilterError("the direct renderer is not available here; try shaders with renderer='vs-placebo'")
    device = _get_device(lib)
    failed = False
    with device.capture() as messages:
        try:
            stream = Stream(device, text, in_size, out_size, colors)
        except vs.Error:
            return Trial(True, "\n".join(messages))
        try:
            grey = np.full((in_size[1], in_size[0]), 32768, np.uint16)
            stream.render([grey, grey, grey], np.empty((out_size[1], out_size[0] * stream.samples), np.uint16))
        except vs.Error:
            failed = True
        finally:
            stream.close()
    return Trial(failed, "\n".join(messages))


def render(clip: vs.VideoNode, text: str, width: int, height: int, colors: Colors,
           streams: int = DEFAULT_STREAMS) -> vs.VideoNode:
    """``text`` (an mpv user shader) rendered on the YUV444P16 ``clip`` to ``width`` x ``height``, as
    ``placebo.Shader(clip, shader_s=text, width=width, height=height, matrix=..., trc=...)`` renders it."""
    lib = pl.load()
    if lib is None:
        raise FilterError(f"the direct renderer cannot run here: {pl.status()}")
    if clip.format.id != vs.YUV444P16:
        raise FilterError(f"the direct renderer takes YUV444P16, got {clip.format.name}")
    device = _get_device(lib)
    branches = max(1, min(streams, clip.num_frames))
    streams_ = [Stream(device, text, (clip.width, clip.height), (width, height), colors) for _ in range(branches)]
    samples = streams_[0].samples
    blank = vs.core.std.BlankClip(clip, width=width * samples, height=height, format=vs.GRAY16, keep=True)
    parts = []
    for i, stream in enumerate(streams_):
        b = blank.std.SelectEvery(branches, i) if branches > 1 else blank
        c = clip.std.SelectEvery(branches, i) if branches > 1 else clip
        parts.append(vs.core.std.ModifyFrame(b, clips=[b, c], selector=functools.partial(_render_frame,
                                                                                        stream=stream)))
    packed = vs.core.std.Interleave(parts) if branches > 1 else parts[0]
    return vs.core.std.CopyFrameProps(split_packed(packed, samples), clip)
