"""``kizunasr_vs.onnx``: run an ONNX image model (super-resolution) on a clip with onnxruntime.

3-channel models run on RGB (any clip is converted to RGBS and back); 1-channel models run on
luma (YUV: chroma is resized with Bicubic to the new size; GRAY: luma only). Frames go through
``std.ModifyFrame``; VapourSynth runs one ModifyFrame callback at a time, so ``streams`` > 1
splits the clip into ``streams`` interleaved branches whose callbacks run concurrently (each
borrowing a session from the pool; onnxruntime releases the GIL while it runs).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence

import numpy as np
import vapoursynth as vs

from kizunasr_vs.core import hardware
from kizunasr_vs.core.errors import FilterError, named_errors
from kizunasr_vs.core.formats import (
    RANGE_FULL,
    ColorInfo,
    check_format,
    resolve_color,
    restore_format,
    to_gray_float,
    to_rgbs,
)
from kizunasr_vs.inference.backend_choice import lookup as lookup_backend
from kizunasr_vs.inference.backends import Backend, Torch
from kizunasr_vs.inference.backends import resolve as resolve_backend
from kizunasr_vs.inference.fp16 import convert_float_to_float16
from kizunasr_vs.inference.ort_session import (
    TRT,
    WHO,
    LoadedModel,
    ModelInfo,
    SessionPool,
    choose_providers,
    cpu_count,
    create_session,
    detect_scale,
    is_gpu,
    load_model,
    model_info,
    provider_options,
)
from kizunasr_vs.inference.plane_io import add_finite_probe, plane_name, split_plane_io
from kizunasr_vs.inference.runner import DirectRunner, FrameRunner, TiledRunner
from kizunasr_vs.inference.runner_cache import (
    ANY_SIZE,
    BackendKey,
    RunnerCache,
    RunnerKey,
    frame_plan,
    tiles_plan,
)
from kizunasr_vs.inference.runner_cache import shared as shared_runners
from kizunasr_vs.inference.tiling import Tile, plan_tiles
from kizunasr_vs.inference.torch_backend import (
    TORCH,
    TORCH_COMPILED,
    TORCH_PROVIDERS,
    TorchBackendError,
    TorchRunner,
)
from kizunasr_vs.inference.yuv_io import PLANES_IN, PLANES_OUT, YuvLayout, plane_dtype, wrap_yuv_io, yuv_layout

log = logging.getLogger(__name__)

DEFAULT_OVERLAP = 16
PROBE_SIZE = 16

Pair = int | tuple[int, int] | list[int]


def _whole_frame(tiles: Sequence[Tile], height: int, width: int) -> bool:
    """One tile covering the frame with no padding: the model sees exactly the frame."""
    if len(tiles) != 1:
        return False
    r, c = tiles[0].rows, tiles[0].cols
    return (r.crop_start, r.crop_end, r.pad, c.crop_start, c.crop_end, c.pad) == (0, height, 0, 0, width, 0)


def _hw(value: Pair, what: str) -> tuple[int, int]:
    """An int or a (width, height) pair as (height, width), checked >= 0."""
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        pair = (int(value[1]), int(value[0]))
    else:
        raise FilterError(f"{what} must be an int or a (width, height) pair, not {value!r}")
    if min(pair) < 0 or (what == "tile" and min(pair) < 1):
        raise FilterError(f"{what} must be positive, not {value!r}")
    return pair


def _check_channels(fmt: vs.VideoFormat, info: ModelInfo, name: str) -> None:
    """Match the model's channel count to the clip's colour family."""
    if info.channels == 3 and fmt.color_family == vs.GRAY:
        raise FilterError(
            f"{name}: this model needs RGB (3 channels); the clip is GRAY ({fmt.name}): "
            "convert with core.resize.Bicubic(clip, format=vs.RGBS)"
        )
    if info.channels == 1 and fmt.color_family == vs.RGB:
        raise FilterError(
            f"{name}: this model is 1-channel (luma) and needs a YUV or GRAY clip; the clip is RGB "
            f"({fmt.name}): convert with core.resize.Bicubic(clip, format=vs.YUV444PS, matrix_s='709')"
        )


def _plan(
    height: int,
    width: int,
    info: ModelInfo,
    tile: Pair | None,
    overlap: Pair | None,
    pad_multiple: int | None,
) -> list[Tile]:
    """Plan the tiles for one frame, turning argument conflicts into ``vs.Error``."""
    if pad_multiple is not None and (not isinstance(pad_multiple, int) or pad_multiple < 1):
        raise FilterError(f"pad_multiple must be an int >= 1, not {pad_multiple!r}")
    tile_hw = _hw(tile, "tile") if tile is not None else None
    forced = any(f is not None and n > f for f, n in zip(info.fixed, (height, width), strict=True))
    tiling = tile_hw is not None or forced
    over = _hw(overlap, "overlap") if overlap is not None else (DEFAULT_OVERLAP, DEFAULT_OVERLAP)
    if not tiling:
        over = (0, 0)
    for axis, label in ((0, "height"), (1, "width")):
        fixed = info.fixed[axis]
        if fixed is not None and tile_hw is not None and tile_hw[axis] + 2 * over[axis] > fixed:
            raise FilterError(
                f"the model has a fixed input {label} of {fixed}; tile {label} {tile_hw[axis]} + "
                f"2 x overlap {over[axis]} = {tile_hw[axis] + 2 * over[axis]} does not fit: use tile=None "
                "or a smaller tile/overlap"
            )
    try:
        return plan_tiles(height, width, tile_hw, over, pad_multiple or 1, info.fixed)
    except ValueError as e:
        raise FilterError(
            f"cannot tile a {width}x{height} frame for this model: {e}; pass a smaller overlap"
        ) from e


def _model_bytes(loaded: LoadedModel, info: ModelInfo, providers: Sequence[str], fp16: bool) -> bytes:
    """Serialized model for the sessions: fp16-converted for non-TensorRT fp16 runs of fp32 models."""
    if fp16 and info.dtype == np.float32 and providers[0] != TRT:
        try:
            return convert_float_to_float16(loaded.proto).SerializeToString()
        except ValueError as e:
            raise FilterError(f"{loaded.name}: cannot convert to fp16 ({e}); pass fp16=False") from e
    return loaded.proto.SerializeToString()


def _trt_profile(info: ModelInfo, tiles: Sequence[Tile]) -> tuple[str, str, str]:
    shapes = [t.model_shape for t in tiles]
    low = (min(h for h, _ in shapes), min(w for _, w in shapes))
    high = (max(h for h, _ in shapes), max(w for _, w in shapes))
    fmt = f"{info.input_name}:1x{info.channels}x{{}}x{{}}"
    return fmt.format(*low), fmt.format(*high), fmt.format(*high)


def _probe_shape(
    info: ModelInfo, providers: Sequence[str], tiles: Sequence[Tile], pad_multiple: int
) -> tuple[int, int]:
    """Small probe on CPU/CUDA; on TensorRT the smallest real tile (no extra engine build)."""
    if providers[0] == TRT:
        return min(t.model_shape for t in tiles)
    size = -(-PROBE_SIZE // pad_multiple) * pad_multiple
    return info.height or size, info.width or size


def _ort_backend(info: ModelInfo, provider: str, fp16: bool | None, streams: int | None,
                 layout: YuvLayout | None = None) -> BackendKey:
    """onnxruntime's providers for ``provider``, fp16 (None: on for GPU providers with fp32 models) and the
    session count (None: 1 on CPU, 2 on GPU), resolved once for the cache key and the build."""
    providers = choose_providers(provider)
    gpu = is_gpu(providers)
    use_fp16 = (gpu and info.dtype == np.float32) if fp16 is None else bool(fp16)
    return BackendKey(tuple(providers), use_fp16, _stream_count(streams, gpu), layout)


def _build_runner(
    loaded: LoadedModel,
    info: ModelInfo,
    backend: BackendKey,
    tiles: Sequence[Tile],
    pad_multiple: int,
) -> TiledRunner:
    """Create the session pool for ``backend`` and detect the scale."""
    providers, use_fp16, count = backend.providers, backend.fp16, backend.streams
    profile = _trt_profile(info, tiles) if providers[0] == TRT else None
    specs = provider_options(providers, loaded.sha256, use_fp16, trt_profile=profile)
    data = _model_bytes(loaded, info, providers, use_fp16)
    threads = max(1, cpu_count() // count)
    sessions = [create_session(data, loaded.name, specs, threads) for _ in range(count)]
    scale = detect_scale(sessions[0], info, loaded.name, _probe_shape(info, providers, tiles, pad_multiple))
    precision = "fp16" if use_fp16 or info.dtype == np.float16 else "fp32"  # (TensorRT: its fp16 mode)
    return TiledRunner(info, scale, SessionPool(sessions), tuple(tiles), precision)


def _tiled_runner(
    runners: RunnerCache, loaded: LoadedModel, info: ModelInfo, provider: str, fp16: bool | None,
    streams: int | None, tiles: Sequence[Tile], pad_multiple: int,
) -> TiledRunner:
    """Reuse tiled sessions for the same model and settings; TensorRT engines also depend on the tile shapes
    (their optimisation profile), so those are part of the key. The runner is given this call's tiles."""
    backend = _ort_backend(info, provider, fp16, streams)
    profile = _trt_profile(info, tiles) if backend.providers[0] == TRT else None
    plan = tiles_plan(_probe_shape(info, backend.providers, tiles, pad_multiple), profile)
    runner = runners.get_or_build(RunnerKey(loaded.sha256, backend, plan),
                                  lambda: _build_runner(loaded, info, backend, tiles, pad_multiple))
    return runner.with_tiles(tiles)


def _direct_runner(
    runners: RunnerCache, loaded: LoadedModel, info: ModelInfo, provider: str, fp16: bool | None,
    streams: int | None, layout: YuvLayout | None = None,
) -> DirectRunner:
    """Reuse sessions for the same model and settings (the mpv worker builds a graph per paused frame:
    the model stays warm instead of being reloaded each time). The per-plane graph accepts any size."""
    backend = _ort_backend(info, provider, fp16, streams, layout)
    return runners.get_or_build(RunnerKey(loaded.sha256, backend, ANY_SIZE),
                                lambda: _build_direct_runner(loaded, info, backend))


def _build_direct_runner(loaded: LoadedModel, info: ModelInfo, backend: BackendKey) -> DirectRunner:
    """Sessions on the per-plane graph; fp16 models (native or converted on GPU) take fp16 planes,
    or with ``backend.layout`` the graph takes and returns integer YUV planes."""
    providers, use_fp16, count, layout = backend.providers, backend.fp16, backend.streams, backend.layout
    proto = loaded.proto
    if use_fp16 and info.dtype == np.float32:
        try:
            proto = convert_float_to_float16(proto, keep_io_types=False)
        except ValueError as e:
            raise FilterError(f"{loaded.name}: cannot convert to fp16 ({e}); pass fp16=False") from e
    io_dtype = np.dtype(np.float16 if use_fp16 or info.dtype == np.float16 else np.float32)
    if layout is not None:
        try:
            graph = wrap_yuv_io(proto, layout)
        except ValueError as e:
            raise FilterError(f"{loaded.name}: cannot take YUV planes ({e}); pass yuv_io=False") from e
        inputs, outputs = list(PLANES_IN), list(PLANES_OUT)
    else:
        graph = split_plane_io(proto, info.channels)
        inputs = [plane_name(info.input_name, c) for c in range(info.channels)]
        outputs = [plane_name(info.output_name, c) for c in range(info.channels)]
    add_finite_probe(graph, info.output_name)
    specs = provider_options(providers, loaded.sha256, use_fp16)
    threads = max(1, cpu_count() // count)
    sessions = [create_session(graph.SerializeToString(), loaded.name, specs, threads) for _ in range(count)]
    ph, pw = info.height or PROBE_SIZE, info.width or PROBE_SIZE
    if layout is not None:
        feeds = {name: np.zeros((1, 1, ph >> (c and layout.sub_h), pw >> (c and layout.sub_w)),
                                plane_dtype(layout.bits_in)) for c, name in enumerate(inputs)}
    else:
        feeds = {name: np.full((1, 1, ph, pw), 0.5, dtype=io_dtype) for name in inputs}
    try:
        out_h, out_w = sessions[0].run(outputs[:1], feeds)[0].shape[2:]
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise FilterError(f"{loaded.name}: the model failed on a {pw}x{ph} probe: {e}") from e
    if out_h % ph or out_w % pw or out_h // ph != out_w // pw or out_h < ph:
        raise FilterError(f"{loaded.name}: the scale must be one integer >= 1 for both axes; a "
                          f"{pw}x{ph} input gave {out_w}x{out_h}")
    return DirectRunner(info, out_h // ph, SessionPool(sessions), io_dtype, inputs, outputs, layout)


def _stream_count(streams: int | None, gpu: bool) -> int:
    count = streams if streams is not None else (2 if gpu else 1)
    if not isinstance(count, int) or count < 1:
        raise FilterError(f"streams must be an int >= 1, not {streams!r}")
    return count


def _nonfinite(n: int, name: str) -> FilterError:
    """The model's output for frame ``n`` has NaN or Inf values: stop rather than write black frames."""
    return FilterError(f"{name}: frame {n}: the model's output has NaN or Inf values, which would be "
                       "written as black or broken frames; a model run in fp16 can overflow (pass fp16=False), "
                       "otherwise the model is broken for this input: check or replace it", WHO)  # (frame time)


def _new_frame(like: vs.VideoFrame, props_of: vs.VideoFrame) -> vs.VideoFrame:
    """A fresh writable frame shaped like ``like`` with ``props_of``'s frame props: no copy of the blank
    frame's planes (copy-on-write would duplicate each plane on the first write, a full-frame memcpy per
    frame)."""
    out = vs.core.create_video_frame(like.format, like.width, like.height)
    out.props.update(props_of.props)
    return out


def _frame(n: int, f: list[vs.VideoFrame], runner: FrameRunner, name: str) -> vs.VideoFrame:
    """ModifyFrame callback: the runner reads ``f[1]`` and writes a fresh frame shaped like the blank ``f[0]``."""
    blank, src = f
    out = _new_frame(blank, src)
    if not runner.run_frame(src, out):
        raise _nonfinite(n, name)
    return out


TORCH_STREAMS = 8  # frames in flight per torch runner (docs/BENCHMARKS.md, the torch backend)


def _torch_runner(runners: RunnerCache, loaded: LoadedModel, info: ModelInfo, height: int, width: int,
                  streams: int | None, provider: str, layout: YuvLayout | None = None,
                  cuda_graphs: bool = True) -> TorchRunner:
    """A TorchRunner for this model, frame size, stream count, plane layout, provider ("torch" or
    "torch-compile") and CUDA-graph choice, reused across calls (like the sessions)."""
    count = _stream_count(streams if streams is not None else TORCH_STREAMS, True)
    backend = BackendKey((TORCH,), True, count, layout, provider == TORCH_COMPILED, cuda_graphs)
    return runners.get_or_build(RunnerKey(loaded.sha256, backend, frame_plan(height, width)),
                                 lambda: _build_torch_runner(loaded, info, height, width, backend))


def _build_torch_runner(loaded: LoadedModel, info: ModelInfo, height: int, width: int,
                        backend: BackendKey) -> TorchRunner:
    """The torch module for ``backend`` and whole ``width`` x ``height`` frames; failures as ``vs.Error``."""
    count, compiled = backend.streams, backend.compiled
    if compiled:
        log.warning("%s: compiling for this GPU and %dx%d (torch.compile: about a minute the first time, "
                    "seconds once cached)", loaded.name, width, height)
    try:
        return TorchRunner(loaded.proto, info.channels, height, width, streams=count, layout=backend.layout,
                           compile_model=compiled, graphs=backend.graphs)
    except (TorchBackendError, ImportError) as e:
        raise FilterError(f"{loaded.name}: the torch backend cannot run it ({e}); use backend='cuda'") from e
    except RuntimeError as e:  # out of GPU memory, a torch.compile failure ...
        raise FilterError(f"{loaded.name}: the torch backend failed to start ({e}); each of the {count} "
                          "streams keeps a frame's buffers on the GPU: pass a smaller Torch(streams=), or use "
                          "backend='torch' (no compile) or 'cuda'") from e


def _model_clip(src: vs.VideoNode, runner: FrameRunner, name: str, out_format: int | None = None) -> vs.VideoNode:
    """The model's output as a clip (in ``out_format``, default ``src``'s), split over ``runner.branches``
    concurrently running branches; a frame whose output is not finite raises ``vs.Error`` naming the model."""
    s = runner.scale
    blank = vs.core.std.BlankClip(src, width=src.width * s, height=src.height * s, keep=True, format=out_format)
    selector: Callable[[int, list[vs.VideoFrame]], vs.VideoFrame] = functools.partial(
        _frame, runner=runner, name=name)
    branches = min(runner.branches, src.num_frames)
    if branches == 1:
        return vs.core.std.ModifyFrame(blank, clips=[blank, src], selector=selector)
    parts = []
    for i in range(branches):
        b, c = blank.std.SelectEvery(branches, i), src.std.SelectEvery(branches, i)
        parts.append(vs.core.std.ModifyFrame(b, clips=[b, c], selector=selector))
    return vs.core.std.Interleave(parts)


def _join_chroma(clip: vs.VideoNode, luma: vs.VideoNode, color: ColorInfo) -> vs.VideoNode:
    """YUV444PS from the model's luma and the clip's chroma resized (Bicubic) to the new size."""
    chroma = clip.resize.Bicubic(
        width=luma.width, height=luma.height, format=vs.YUV444PS, matrix_in=color.matrix, matrix=color.matrix,
        range_in=color.range, range=RANGE_FULL, chromaloc_in=color.chroma_location,
    )
    return vs.core.std.ShufflePlanes([luma, chroma], planes=[0, 1, 2], colorfamily=vs.YUV)


@named_errors(WHO)
def onnx(
    clip: vs.VideoNode,
    model: str | os.PathLike[str] | bytes,
    *,
    backend: str | Backend = "auto",
    tile: Pair | None = None,
    overlap: Pair | None = None,
    output_format: int | None = None,
    pad_multiple: int | None = None,
    yuv_io: bool | None = None,
    runners: RunnerCache | None = None,
    fp16: bool | None = None,
    streams: int | None = None,
) -> vs.VideoNode:
    """Upscale ``clip`` with an ONNX model (a path or bytes); ``kizunasr_vs.onnx`` resolves registry names first.

    backend: ``"auto"`` (what `kizunasr bench --calibrate` measured fastest for this model and size, else
        TensorRT > CUDA > CPU), a backend object (``OrtCPU``, ``OrtCUDA``, ``OrtTensorRT``, ``Torch``: see
        inference/backends.py) or a name: "cpu", "cuda", "tensorrt", "torch", "torch-compile".
    tile: owned tile size, int or (width, height); None = whole frame (unless the model's input size is fixed
        and smaller). overlap: context per side around each tile (default 16).
    output_format: a ``vs.PresetVideoFormat`` for the result; None = the input's format.
    pad_multiple: the model needs H and W divisible by this (crops are grown or edge-padded).
    yuv_io: convert integer YUV to the model's RGB and back on the GPU (yuv_io.py, torch_yuv.py) instead of with
        zimg on the CPU; None = on for GPU backends where the clip, the output format and the run allow it.
    runners: where the built sessions and torch modules are kept for reuse; None = the process's shared cache
        (``runner_cache.shared()``), so that later calls with the same model and settings start warm.
    fp16, streams: settings of a backend given by name (a profile step's ``fp16``); a backend object carries
        its own.
    """
    fmt = check_format(clip, WHO)
    runners = shared_runners() if runners is None else runners
    loaded = load_model(model)
    info = model_info(loaded)
    _check_channels(fmt, info, loaded.name)
    color = resolve_color(clip)
    tiles = _plan(clip.height, clip.width, info, tile, overlap, pad_multiple)
    whole = _whole_frame(tiles, clip.height, clip.width)
    calibrated = _calibrated_torch(loaded, clip.width, clip.height) if backend == "auto" and whole else None
    chosen = resolve_backend(backend, fp16, streams, calibrated)  # once: every branch below runs this one
    provider, fp16, streams = chosen.provider, chosen.fp16, chosen.streams
    cuda_graphs = chosen.cuda_graphs if isinstance(chosen, Torch) else True
    torch_backend = provider in TORCH_PROVIDERS
    direct = whole and (torch_backend or choose_providers(provider)[0] != TRT)
    if _wants_yuv_io(yuv_io, provider, direct):
        out_fmt = vs.core.get_video_format(output_format) if output_format is not None else fmt
        layout = yuv_layout(fmt, color, out_fmt) if direct and info.channels == 3 else None
        if layout is not None:
            try:
                yuv_runner: FrameRunner
                if torch_backend:
                    yuv_runner = _torch_runner(runners, loaded, info, clip.height, clip.width, streams, provider,
                                               layout, cuda_graphs)
                else:
                    yuv_runner = _direct_runner(runners, loaded, info, provider, fp16, streams, layout)
            except vs.Error:
                if yuv_io:
                    raise
                log.info("%s: colour conversion stays with zimg (the model does not take YUV planes)", loaded.name)
            else:
                out = _model_clip(clip, yuv_runner, loaded.name, out_fmt.id)
                return vs.core.std.SetFrameProps(out, _Matrix=color.matrix, _Range=color.range,
                                                 _ChromaLocation=color.chroma_location, _Transfer=color.transfer,
                                                 _Primaries=color.primaries)
        elif yuv_io:
            raise FilterError(f"yuv_io needs an RGB (3-channel) model, a whole-frame run (tile=None, not "
                              f"tensorrt), integer YUV 4:4:4/4:2:2/4:2:0 in and out with the same subsampling "
                              f"(got {fmt.name}), matrix 709/601/2020 and chroma location left or center; pass "
                              "yuv_io=None to convert with zimg")
    src = to_rgbs(clip, color) if info.channels == 3 else to_gray_float(clip, color)
    runner: FrameRunner
    if torch_backend:
        if not whole:
            raise FilterError("the torch backend runs whole frames only; pass tile=None")
        src = src.resize.Point(format=vs.RGBH if info.channels == 3 else vs.GRAYH)
        runner = _torch_runner(runners, loaded, info, src.height, src.width, streams, provider,
                               cuda_graphs=cuda_graphs)
    elif direct:
        runner = direct_runner = _direct_runner(runners, loaded, info, provider, fp16, streams)
        if direct_runner.io_dtype == np.float16:
            src = src.resize.Point(format=vs.RGBH if info.channels == 3 else vs.GRAYH)
    else:
        runner = _tiled_runner(runners, loaded, info, provider, fp16, streams, tiles, pad_multiple or 1)
    out = _model_clip(src, runner, loaded.name)
    if info.channels == 1 and fmt.color_family == vs.YUV:
        out = _join_chroma(clip, out, color)
    return restore_format(out, fmt, color, output_format)


def _calibrated_torch(loaded: LoadedModel, width: int, height: int) -> str | None:
    """"torch" or "torch-compile" where `kizunasr bench --calibrate` measured that faster for this model and
    size on this machine (and onnxruntime would use CUDA, not TensorRT); else None."""
    choice = lookup_backend(loaded.sha256, width, height)
    if choice not in TORCH_PROVIDERS:
        return None
    if choose_providers("auto")[0] == TRT or not hardware.torch_cuda_available():
        return None
    log.info("%s: provider %s (measured fastest here by `kizunasr bench --calibrate`)", loaded.name, choice)
    return choice


def backend_for(model: str | os.PathLike[str] | bytes, width: int, height: int,
                backend: str | Backend = "auto") -> str:
    """What ``onnx(backend=backend)`` runs a whole ``width`` x ``height`` frame on: "torch", "torch-compile"
    or an onnxruntime execution provider's name (shown by `kizunasr bench`); resolved as ``onnx()`` resolves it."""
    calibrated = _calibrated_torch(load_model(model), width, height) if backend == "auto" else None
    chosen = resolve_backend(backend, calibrated=calibrated)
    return chosen.provider if isinstance(chosen, Torch) else choose_providers(chosen.provider)[0]


def _wants_yuv_io(yuv_io: bool | None, provider: str, direct: bool) -> bool:
    """Explicit choice, else on for GPU providers (where host copies of float RGB cost the most)."""
    if yuv_io is not None:
        return yuv_io
    return direct and (provider in TORCH_PROVIDERS or is_gpu(choose_providers(provider)))
