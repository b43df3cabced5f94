"""``kizunasr_vs.shader``: run mpv/libplacebo GLSL user shaders through libplacebo (our renderer or vs-placebo).

Facts about ``placebo.Shader`` (vs-placebo 2.0.4, bundled libplacebo) this module relies on:

* it takes ``YUVxxxP16`` only and returns ``YUV444P16`` in the same matrix and range;
* ``matrix`` is libplacebo's ``pl_color_system`` (1 = BT.601, 2 = BT.709, the default), *not*
  VapourSynth's ``_Matrix`` numbering; ``trc`` is ``pl_color_transfer`` (1 = BT.1886, default);
* the range comes from the ``_Range`` frame prop (missing = limited); the output frame keeps
  the input frame's props;
* it renders to ``width``/``height`` (default: the input size) and scales the hooks' result to
  that size, so the size the shader chain produces must be passed to avoid a rescale;
* intermediate textures are 16-bit float: expect errors of ~3e-4 (of full scale) per shader;
* a shader that fails to compile does not raise: libplacebo logs the GLSL error and the hook is
  disabled (frames come back unshaded). Each shader is therefore rendered once on a tiny frame
  when the filter is created, libplacebo's messages taken through its log callback (our
  renderer's; in a child process where only vs-placebo can run), and errors are raised here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError, named_errors
from kizunasr_vs.core.formats import (
    RANGE_FULL,
    RANGE_LIMITED,
    ColorInfo,
    check_format,
    resolve_color,
    restore_format,
    to_yuv444p16,
)
from kizunasr_vs.render import placebo_direct
from kizunasr_vs.render.libplacebo import PL_COLOR_LEVELS_FULL, PL_COLOR_LEVELS_LIMITED
from kizunasr_vs.render.libplacebo import status as libplacebo_status
from kizunasr_vs.render.merge import can_share_render, merged_text
from kizunasr_vs.render.source import (
    ShaderSource,
    TextureTooLarge,
    apply_params,
    check_texture_size,
    check_user_shader,
    infer_output_size,
    load_shader,
    parse_params,
    parse_passes,
    round_size,
)

ShaderArg = str | os.PathLike[str]
log = logging.getLogger("kizunasr")

# VapourSynth _Matrix -> libplacebo pl_color_system.
_PL_MATRIX = {1: 2, 5: 1, 6: 1, 7: 3, 8: 9, 9: 4, 10: 5}
_PL_BT709 = 2
# VapourSynth _Transfer -> libplacebo pl_color_transfer (only values stable across libplacebo versions).
_PL_TRC = {8: 3, 13: 2}  # linear, sRGB
_PL_BT1886 = 1  # mpv's choice for BT.709 / BT.601 / BT.2020 video
VALIDATE_SIZE = 16
RENDERERS = ("auto", "direct", "vs-placebo")

_validated: dict[str, str | None] = {}  # sha256 of the shader text -> None (ok) or the error
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DUMP_LINE = re.compile(r"^\[\s*(\d+)\]\s?(.*)$")
_GLSL_ERROR = re.compile(r"^\S+:(\d+): error:")


@dataclass(frozen=True)
class _Render:
    """The colour arguments every placebo.Shader call of one filter uses."""

    matrix: int  # pl_color_system
    trc: int  # pl_color_transfer
    range: int  # `_Range` prop (zimg numbering)

    @property
    def colors(self) -> placebo_direct.Colors:
        levels = PL_COLOR_LEVELS_LIMITED if self.range == RANGE_LIMITED else PL_COLOR_LEVELS_FULL
        return placebo_direct.Colors(self.matrix, self.trc, levels)


# Interleaved vs-placebo instances per call, and the vs-placebo filters one call builds (renders x instances): more
# gain nothing, and too many live vs-placebo filters crash it (docs/BENCHMARKS.md, shader filter).
MAX_INSTANCES = 2
MAX_RENDERERS = 4


@named_errors("shader")
def shader(
    clip: vs.VideoNode,
    shaders: ShaderArg | Sequence[ShaderArg],
    width: int | None = None,
    height: int | None = None,
    params: Mapping[str, float | int] | None = None,
    *,
    output_format: int | None = None,
    instances: int = 1,
    merge: bool = True,
    renderer: str = "auto",
    streams: int = placebo_direct.DEFAULT_STREAMS,
) -> vs.VideoNode:
    """Run mpv user shaders (paths or source text) on ``clip`` through libplacebo, in list order.

    The output size is worked out from the shaders' ``//!WIDTH``/``//!HEIGHT`` (``width`` /
    ``height`` override it for the last shader); ``params`` override ``//!PARAM`` defaults in
    every shader that declares them. The result is converted back to the input's format (or
    ``output_format``) and keeps the input's frame props.

    Shaders run in list order. Consecutive shaders share one render where that gives what
    rendering them one by one gives (``merge``: e.g. no shader hooking an earlier stage than the
    one before it, or reading the render's input or another stage's texture); a shared render uploads
    and downloads a frame once and keeps the images between shaders in 16-bit float on the GPU (values
    beyond white survive). Otherwise, or with ``merge=False``, each shader renders on its own, with a
    YUV444P16 round trip through host memory between them.

    ``renderer``: ``"direct"`` is our own libplacebo renderer (``placebo_direct``: the same libplacebo
    calls as ``placebo.Shader``, with ``streams`` frames in flight and persistent host-mapped
    buffers); ``"vs-placebo"`` is vs-placebo's ``placebo.Shader``; ``"auto"`` takes ``"direct"`` where
    vs-placebo's bundled libplacebo is of a layout it knows. Both give the same output.

    ``instances`` > 1 (vs-placebo only) splits the clip into that many interleaved branches, each with
    its own vs-placebo renderers (one vs-placebo instance works on one frame at a time).
    """
    fmt = check_format(clip, "shader")
    if not hasattr(vs.core, "placebo"):
        raise FilterError("the vs-placebo plugin is not loaded; install it (pip install vs-placebo)")
    if not isinstance(instances, int) or not 1 <= instances <= MAX_INSTANCES:
        raise FilterError(f"instances must be an int from 1 to {MAX_INSTANCES}, got {instances!r}")
    direct = renderer_choice(renderer)[0] == "direct"
    if not isinstance(streams, int) or not 1 <= streams <= placebo_direct.MAX_STREAMS:
        raise FilterError(f"streams must be an int from 1 to {placebo_direct.MAX_STREAMS}, got {streams!r}")
    info = resolve_color(clip)
    yuv, vs_matrix = to_yuv444p16(clip, info)
    plan = _plan(shaders, width, height, params, merge, (yuv.width, yuv.height),
                 _Render(_pl_matrix(vs_matrix, fmt), _PL_TRC.get(info.transfer, _PL_BT1886),
                         RANGE_FULL if fmt.color_family == vs.RGB else info.range))
    yuv = vs.core.std.SetFrameProps(yuv, _Range=plan.colors.range)
    out = _render_chain(yuv, plan, streams) if direct else _vs_placebo_branches(yuv, plan, instances)
    out = restore_format(out, fmt, info, output_format)
    return _restore_props(out, clip, info)


def renderer_choice(renderer: str = "auto") -> tuple[str, str]:
    """Which renderer ``shader(renderer=renderer)`` uses here ("direct" or "vs-placebo") and why, in one line."""
    if renderer not in RENDERERS:
        raise FilterError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    if renderer == "vs-placebo":
        return "vs-placebo", "asked for (renderer='vs-placebo')"
    if placebo_direct.available():
        return "direct", libplacebo_status()
    if renderer == "direct":
        raise FilterError(f"renderer='direct' cannot run here: {libplacebo_status()}; or pass "
                          "renderer='vs-placebo'")
    return "vs-placebo", libplacebo_status()


@dataclass(frozen=True)
class RenderPlan:
    """The renders ``shader()`` makes, in order: each one's shader text (several shaders merged into one where
    they share a render) and output size, and the colour arguments every render uses."""

    renders: tuple[ShaderSource, ...]
    sizes: tuple[tuple[int, int], ...]
    colors: _Render


@named_errors("shader")
def plan_renders(clip: vs.VideoNode, shaders: ShaderArg | Sequence[ShaderArg], width: int | None = None,
                 height: int | None = None, params: Mapping[str, float | int] | None = None, *,
                 merge: bool = True) -> RenderPlan:
    """The renders ``shader(clip, shaders, width, height, params, merge=merge)`` makes (each shader checked and
    tried on a tiny frame, as ``shader()`` does), without building the filter."""
    fmt = check_format(clip, "shader")
    info = resolve_color(clip)
    _, vs_matrix = to_yuv444p16(clip, info)  # (a lazy node: only its matrix is used)
    colors = _Render(_pl_matrix(vs_matrix, fmt), _PL_TRC.get(info.transfer, _PL_BT1886),
                     RANGE_FULL if fmt.color_family == vs.RGB else info.range)
    return _plan(shaders, width, height, params, merge, (clip.width, clip.height), colors)


def _plan(shaders: ShaderArg | Sequence[ShaderArg], width: int | None, height: int | None,
          params: Mapping[str, float | int] | None, merge: bool, in_size: tuple[int, int],
          render: _Render) -> RenderPlan:
    """Load, check and size the shaders, try each on a tiny frame, and merge runs that can share a render."""
    _check_size_args(width, height)
    sources = _prepare(shaders, params or {})
    sizes = []
    w, h = in_size
    check_texture_size(w, h, "the clip")
    for i, src in enumerate(sources):
        last = i == len(sources) - 1
        out_w, out_h = _target_size(src, w, h, (width, height) if last else (None, None), last)
        check_texture_size(out_w, out_h, f"the output of '{src.name}'")
        _validate(src, render, out_w / w, out_h / h)
        sizes.append((out_w, out_h))
        w, h = out_w, out_h
    if merge:
        sources, sizes = _merge_runs(sources, sizes, render, in_size)
    return RenderPlan(tuple(sources), tuple(sizes), render)


def _vs_placebo_branches(yuv: vs.VideoNode, plan: RenderPlan, instances: int) -> vs.VideoNode:
    """The vs-placebo chain on ``instances`` interleaved branches (1 where that would build too many filters)."""
    renders = len(plan.renders)
    if instances > 1 and instances * renders > MAX_RENDERERS:
        log.warning("shader: %d renders x %d instances would make %d vs-placebo filters, more than %d (too many "
                    "crash vs-placebo); using 1 instance", renders, instances, instances * renders, MAX_RENDERERS)
        instances = 1
    branches = min(instances, yuv.num_frames)
    parts = [_render_chain(yuv.std.SelectEvery(branches, i) if branches > 1 else yuv, plan)
             for i in range(branches)]
    return vs.core.std.Interleave(parts) if branches > 1 else parts[0]


def _render_chain(clip: vs.VideoNode, plan: RenderPlan, streams: int | None = None) -> vs.VideoNode:
    """One render per planned source, each at its size: by our renderer with ``streams`` frames in flight, or by
    vs-placebo's ``placebo.Shader`` where ``streams`` is None."""
    render = plan.colors
    for src, (out_w, out_h) in zip(plan.renders, plan.sizes, strict=True):
        if streams is not None:
            clip = placebo_direct.render(clip, src.text, out_w, out_h, render.colors, streams)
        else:
            clip = vs.core.placebo.Shader(clip, shader_s=src.text, width=out_w, height=out_h,
                                          matrix=render.matrix, trc=render.trc)
    return clip


def _merge_runs(sources: Sequence[ShaderSource], sizes: Sequence[tuple[int, int]], render: _Render,
                in_size: tuple[int, int]) -> tuple[list[ShaderSource], list[tuple[int, int]]]:
    """The list with each longest run of shaders that can share a render (``can_share_render``) merged into
    one file, and the output size of each; a run whose merged file libplacebo rejects stays one by one."""
    out_sources: list[ShaderSource] = []
    out_sizes: list[tuple[int, int]] = []
    start = 0
    while start < len(sources):
        end = start + 1
        while end < len(sources) and can_share_render([src.text for src in sources[start:end + 1]]):
            end += 1
        size, run = sizes[end - 1], sources[start:end]
        merged = ShaderSource(" + ".join(src.name for src in run), merged_text([src.text for src in run]))
        error = _validation_error(merged, render, size[0] / in_size[0], size[1] / in_size[1]) if len(run) > 1 else ""
        if error is None:
            out_sources.append(merged)
            out_sizes.append(size)
        else:
            if error:
                log.info("shader: %s render one by one (in one file libplacebo said: %s)", merged.name, error)
            out_sources += run
            out_sizes += sizes[start:end]
        in_size, start = size, end
    return out_sources, out_sizes


def _check_size_args(width: int | None, height: int | None) -> None:
    for name, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise FilterError(f"{name} must be a positive integer, got {value!r}")


def _prepare(shaders: ShaderArg | Sequence[ShaderArg], params: Mapping[str, float | int]) -> list[ShaderSource]:
    """Load the shaders, check their headers and apply ``params`` to those that declare them."""
    items = [shaders] if isinstance(shaders, str | os.PathLike) or not isinstance(shaders, Sequence) else list(shaders)
    if not items:
        raise FilterError("no shaders given")
    sources = [load_shader(item) for item in items]
    declared: list[set[str]] = []
    for src in sources:
        check_user_shader(src)
        try:
            parse_passes(src.text)
            declared.append({p.name for p in parse_params(src.text)})
        except vs.Error as exc:
            raise FilterError(f"shader '{src.name}': {exc}") from exc
    unknown = sorted(set(params) - set().union(*declared))
    if unknown:
        known = ", ".join(sorted(set().union(*declared))) or "none"
        raise FilterError(f"unknown param(s) {', '.join(unknown)}; the shaders declare: {known}")
    return [_with_params(src, {k: v for k, v in params.items() if k in names})
            for src, names in zip(sources, declared, strict=True)]


def _with_params(src: ShaderSource, params: Mapping[str, float | int]) -> ShaderSource:
    try:
        return ShaderSource(src.name, apply_params(src.text, params))
    except vs.Error as exc:
        raise FilterError(f"shader '{src.name}': {exc}") from exc


def _pl_matrix(vs_matrix: int, fmt: vs.VideoFormat) -> int:
    """libplacebo's colour system for a VapourSynth matrix (RGB input travels as BT.709 YUV).

    GRAY input has neutral chroma, for which every YCbCr matrix gives the same RGB.
    """
    if fmt.color_family == vs.GRAY and vs_matrix not in _PL_MATRIX:
        return _PL_BT709
    if vs_matrix not in _PL_MATRIX:
        raise FilterError(f"matrix {vs_matrix} is not supported by libplacebo; convert the clip "
                          "to BT.709 or BT.601 YUV (or RGB) first")
    return _PL_MATRIX[vs_matrix]


def _target_size(
    src: ShaderSource, in_w: int, in_h: int, explicit: tuple[int | None, int | None], last: bool
) -> tuple[int, int]:
    """The explicit size where given, else the size the shader produces."""
    ew, eh = explicit
    try:
        iw, ih = infer_output_size(src, in_w, in_h)  # also with both given: its passes' textures must fit
    except TextureTooLarge:
        raise
    except vs.Error as exc:
        if ew is not None and eh is not None:
            return ew, eh
        if last:
            raise
        raise FilterError(f"{exc} (width/height apply to the last shader of a chain: put this shader "
                          "last or give it its own shader() call)") from exc
    return ew or iw, eh or ih


def _restore_props(out: vs.VideoNode, clip: vs.VideoNode, info: ColorInfo) -> vs.VideoNode:
    """The input's frame props, with the colour tags describing the output format."""
    out = vs.core.std.CopyFrameProps(out, clip)
    fmt = out.format
    full = fmt.color_family == vs.RGB or fmt.sample_type == vs.FLOAT
    tags: dict[str, int] = {"_Transfer": info.transfer, "_Primaries": info.primaries,
                            "_Range": RANGE_FULL if full else info.range}
    if fmt.color_family == vs.RGB:
        tags["_Matrix"] = 0
    elif fmt.color_family == vs.YUV:
        tags["_Matrix"] = info.matrix
        if fmt.subsampling_w or fmt.subsampling_h:
            tags["_ChromaLocation"] = info.chroma_location
    return vs.core.std.SetFrameProps(out, **tags)


# ---------------------------------------------------------------------------------------------
# Validation: libplacebo reports compile errors only in its log


def _validate(src: ShaderSource, render: _Render, scale_w: float, scale_h: float) -> None:
    """Render one tiny frame with ``src`` and raise ``vs.Error`` if libplacebo reported errors."""
    error = _validation_error(src, render, scale_w, scale_h)
    if error is not None:
        raise FilterError(f"shader '{src.name}': {error}")


def _validation_error(src: ShaderSource, render: _Render, scale_w: float, scale_h: float) -> str | None:
    """libplacebo's errors on a tiny trial render of ``src`` (None: none), cached by the shader's text."""
    key = hashlib.sha256(src.text.encode()).hexdigest()
    if key not in _validated:
        size = (max(1, round_size(VALIDATE_SIZE * scale_w)), max(1, round_size(VALIDATE_SIZE * scale_h)))
        _validated[key] = _trial_render(src.text, render, size)
    return _validated[key]


def _trial_render(text: str, render: _Render, size: tuple[int, int]) -> str | None:
    """None if a 16x16 render logs no error, else a short description of libplacebo's errors."""
    if placebo_direct.available():
        trial = placebo_direct.trial_render(text, (VALIDATE_SIZE, VALIDATE_SIZE), size, render.colors)
    else:
        trial = _vs_placebo_trial(text, render, size)
    summary = _error_summary(trial.log, text, failed=trial.failed)
    if trial.failed:
        return f"libplacebo could not parse it: {summary or 'no message'}"
    if summary:
        return f"libplacebo could not compile it: {summary}"
    return None


_TRIAL_SCRIPT = """
import sys
import vapoursynth as vs
width, height, matrix, trc, range_ = (int(v) for v in sys.argv[1:6])
blank = vs.core.std.BlankClip(width=16, height=16, format=vs.YUV444P16, length=1, color=[32768] * 3, keep=True)
blank = vs.core.std.SetFrameProps(blank, _Range=range_)
try:
    vs.core.placebo.Shader(blank, shader_s=sys.stdin.read(), width=width, height=height, matrix=matrix,
                           trc=trc).get_frame(0)
except vs.Error as exc:
    print(exc, file=sys.stderr)
    sys.exit(3)
"""


def _vs_placebo_trial(text: str, render: _Render, size: tuple[int, int]) -> placebo_direct.Trial:
    """The trial render through vs-placebo, where our renderer cannot run: in a child process, whose output is
    libplacebo's log (vs-placebo writes it to the process's stdout and stderr, which we never redirect here)."""
    args = [str(v) for v in (*size, render.matrix, render.trc, render.range)]
    try:
        child = subprocess.run([sys.executable, "-c", _TRIAL_SCRIPT, *args], input=text, capture_output=True,
                               text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return placebo_direct.Trial(True, "vs-placebo did not answer within 120 s")
    return placebo_direct.Trial(child.returncode != 0, child.stdout + child.stderr)


def _error_summary(log: str, text: str, failed: bool = False) -> str:
    """The relevant error lines of a libplacebo log ('' when there are none), ANSI codes stripped.

    ``failed``: libplacebo is known to have failed, so any logged line is relevant.
    """
    lines = [_ANSI.sub("", line).rstrip() for line in log.splitlines()]
    dump: dict[int, str] = {}
    kept: list[str] = []
    for line in lines:
        if line.endswith("shader source:"):
            dump = {}  # the failing (last) stage's source is dumped last
        elif (m := _DUMP_LINE.match(line)) is not None:
            dump[int(m.group(1))] = m.group(2)
        elif line.strip() and not _is_noise(line):
            kept.append(line.strip())
    glsl = [line for line in kept if _GLSL_ERROR.match(line)]
    failures = [line for line in kept if line.startswith("Failed") and "parse user shader" not in line]
    if glsl:
        shown: set[str] = set()
        return "; ".join(_dedupe([_annotate(line, dump, text, shown) for line in glsl[:6]] + failures))
    if not failed and not failures and not any("error" in line.lower() for line in kept):
        return ""
    return "; ".join(_dedupe([line for line in kept if "parse user shader" not in line][:8]))


def _is_noise(line: str) -> bool:
    stripped = line.strip()
    return (stripped.startswith(("Backtrace:", "#", "shaderc output", "shaderc compile status", "vk_compile_glsl"))
            or stripped.startswith("WARNING: lavapipe"))


def _annotate(error: str, dump: Mapping[int, str], text: str, shown: set[str]) -> str:
    """Add the offending source line (once) and its line number in the user's shader, when unique."""
    m = _GLSL_ERROR.match(error)
    code = dump.get(int(m.group(1)), "").strip() if m else ""
    if not code or code in shown:
        return error
    shown.add(code)
    matches = [i for i, line in enumerate(text.splitlines(), 1) if line.strip() == code]
    where = f"shader line {matches[0]}: " if len(matches) == 1 else ""
    return f"{error} ({where}`{code}`)"


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
