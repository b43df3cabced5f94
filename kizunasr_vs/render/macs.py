"""Multiply-adds per source pixel of an mpv / libplacebo user shader, counted from its passes.

The work a shader does per pixel is what predicts its cost on a consumer GPU, whatever kind of pass it uses.
Each pass that runs on a 4:4:4 source (the passes and texture sizes ``source.pass_runs`` simulates) is compiled
to SPIR-V with shaderc, wrapped in a stand-in for what libplacebo wraps it in (per bound texture
``NAME_raw``/``_tex``/``_texOff``/``_pos``/``_size``/``_pt``/``_mul``/..., ``HOOKED_*`` and ``MAIN_*``
aliases, ``out_image`` for compute passes, parameters at their defaults, ``frame``/``random``/...), and
``render.spirv`` counts the multiply-adds of one invocation. Invocations: one per output pixel for a fragment
pass; for a compute pass (``//!COMPUTE bw bh [tw th]``) ceil(w / bw) x ceil(h / bh) blocks of tw x th threads,
as libplacebo dispatches them. Their sum over the passes, divided by the source's pixels, is the figure.

The stand-in sampling helpers cost nothing: libplacebo's scale the texel (by 1 on a pass's own textures) and
offset the position, which is texture addressing, not the shader's arithmetic. What the shader writes itself
counts, ``NAME_mul * texelFetch(...)`` included.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import vapoursynth as vs

from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.render import shaderc, source, spirv

DEFAULT_SIZE = (1920, 1080)
_MAIN_NAMES = ("MAIN", "MAINPRESUB")
_GLOBALS = """float pl_hook_random;
int pl_hook_frame;
vec2 pl_hook_input_size, pl_hook_target_size, pl_hook_tex_offset;
#define frame pl_hook_frame
#define random pl_hook_random
#define input_size pl_hook_input_size
#define target_size pl_hook_target_size
#define tex_offset pl_hook_tex_offset
vec4 pl_hook_linearize(vec4 color) { return color; }
vec4 pl_hook_delinearize(vec4 color) { return color; }
#define linearize pl_hook_linearize
#define delinearize pl_hook_delinearize
"""


class MacsError(KizunaError, ValueError):
    """A shader whose passes cannot be counted (a pass that does not compile, sizes that depend on the display)."""


@dataclass(frozen=True)
class PassCost:
    """One run of one pass."""

    desc: str
    stage: str  # the hooked stage
    kind: str  # "fragment" or "compute"
    size: tuple[int, int]  # the size it renders
    invocations: float  # per source pixel
    per_invocation: int  # multiply-adds of one invocation
    unknown_loops: int  # loops counted once (no constant trip count)

    @property
    def macs(self) -> float:
        """Multiply-adds per source pixel."""
        return self.invocations * self.per_invocation


@dataclass(frozen=True)
class ShaderCost:
    name: str
    source_size: tuple[int, int]
    passes: tuple[PassCost, ...]

    @property
    def macs(self) -> float:
        """Multiply-adds per source pixel, every pass."""
        return sum(p.macs for p in self.passes)

    @property
    def kind(self) -> str:
        """"fragment", "compute" or "fragment+compute": which kinds of pass it runs."""
        kinds = sorted({p.kind for p in self.passes})
        return "+".join(kinds)

    @property
    def lower_bound(self) -> bool:
        """Some loop counted once: the figure is at least this."""
        return any(p.unknown_loops for p in self.passes)

    def label(self) -> str:
        """The figure for a table: "12,988", or ">= 1,234" when a loop was counted once."""
        return (">= " if self.lower_bound else "") + f"{self.macs:,.0f}"


def count_shader(shader: str | source.ShaderSource, width: int = DEFAULT_SIZE[0],
                 height: int = DEFAULT_SIZE[1]) -> ShaderCost:
    """Multiply-adds per source pixel of ``shader`` (built-in name, path, text or ShaderSource) on a
    ``width`` x ``height`` 4:4:4 source."""
    src = shader if isinstance(shader, source.ShaderSource) else source.load_shader(shader)
    source.check_user_shader(src)
    text = src.text
    try:
        runs = source.pass_runs(text, width, height)
    except vs.Error as exc:
        raise MacsError(f"shader '{src.name}': {exc}") from None
    if not runs:
        raise MacsError(f"shader '{src.name}': none of its passes runs when a 4:4:4 source renders at its own size "
                        "(their hooks or WHEN conditions are not met there), so there is nothing to count")
    blocks = source.split_blocks(text)
    bodies = [text[b.body_start:b.body_end] for b in blocks if _kind(b.headers) == "PASS"]
    passes = source.parse_passes(text)
    descriptors = {b.headers[0].split(maxsplit=1)[-1]: b.headers for b in blocks
                   if _kind(b.headers) in ("TEXTURE", "BUFFER")}
    params = _params(text)
    counted: dict[tuple[int, str], spirv.Count] = {}
    costs = []
    for index, stage, (w, h) in runs:
        p = passes[index]
        if (index, stage) not in counted:
            glsl = pass_glsl(p, stage, bodies[index], descriptors, params)
            try:
                words = shaderc.compiler().compile(glsl, "compute" if p.compute else "fragment", p.desc)
            except shaderc.ShadercError as exc:
                raise MacsError(f"shader '{src.name}', pass '{p.desc}': does not compile: "
                                f"{_first_error(str(exc))}") from None
            counted[(index, stage)] = spirv.count_invocation(words)
        count = counted[(index, stage)]
        invocations = _invocations(p, w, h) / (width * height)
        costs.append(PassCost(p.desc, stage, "compute" if p.compute else "fragment", (w, h), invocations,
                              count.macs, count.unknown_loops))
    return ShaderCost(src.name, (width, height), tuple(costs))


def _invocations(p: source.ShaderPass, width: int, height: int) -> int:
    """Invocations libplacebo runs for a pass rendering ``width`` x ``height``."""
    if not p.compute:
        return width * height
    block_w, block_h = p.compute[0], p.compute[1]
    threads_w, threads_h = (p.compute[2], p.compute[3]) if len(p.compute) >= 4 else (block_w, block_h)
    return math.ceil(width / block_w) * math.ceil(height / block_h) * threads_w * threads_h


def _kind(headers: tuple[str, ...]) -> str:
    first = headers[0] if headers else ""
    return next((k for k in ("TEXTURE", "BUFFER", "PARAM") if first.startswith(k)), "PASS")


def _first_error(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if "error" in line.lower()]
    return lines[0] if lines else message.strip().splitlines()[0]


# ---------------------------------------------------------------------------------------------
# The stand-in for libplacebo's wrapping


def pass_glsl(p: source.ShaderPass, stage: str, body: str, descriptors: dict[str, tuple[str, ...]],
              params: str) -> str:
    """A whole shader stage for one pass: declarations libplacebo would make, the pass body, ``main``."""
    extensions = "".join(line + "\n" for line in body.splitlines() if line.strip().startswith("#extension"))
    body = "".join(("// " + line if line.strip().startswith("#extension") else line) + "\n"
                   for line in body.splitlines())
    out = ["#version 450\n", extensions]
    if p.compute:
        threads = p.compute[2:4] if len(p.compute) >= 4 else p.compute[:2]
        out.append(f"layout(local_size_x = {threads[0]}, local_size_y = {threads[1]}) in;\n"
                   "layout(binding = 0) writeonly uniform image2D pl_hook_out_image;\n"
                   "#define out_image pl_hook_out_image\n")
    else:
        out.append("layout(location = 0) out vec4 pl_hook_color;\n")
    out += [_GLOBALS, params]
    binding = 1
    for name in _bound_names(p, stage):
        if name in descriptors:
            out.append(_descriptor(name, descriptors[name], binding))
        else:
            out.append(_pass_texture(name, binding))
        binding += 1
    out += ["\n", body, "\nvoid main() {\n    ",
            "hook();" if p.compute else "pl_hook_color = hook();", "\n}\n"]
    return "".join(out)


def _bound_names(p: source.ShaderPass, stage: str) -> list[str]:
    """Every name the pass may use for its bound textures: each BIND, HOOKED as the stage too, MAIN and
    MAINPRESUB for each other."""
    names: list[str] = []
    for bind in p.binds:
        group = [bind]
        if bind == "HOOKED":
            group.append(stage)
        if any(n in _MAIN_NAMES for n in group):
            group += _MAIN_NAMES
        names += [n for n in dict.fromkeys(group) if n not in names]
    return names


def _pass_texture(name: str, binding: int) -> str:
    """libplacebo's ``bind_pass_tex`` definitions, with sampling helpers that cost no arithmetic."""
    t = f"pl_hook_{name}"
    return (f"layout(binding = {binding}) uniform sampler2D {t};\n"
            f"vec2 {t}_pos, {t}_pt, {t}_off;\nfloat {t}_mul;\n"
            f"#define {name}_raw {t}\n#define {name}_pos {t}_pos\n#define {name}_pt {t}_pt\n"
            f"#define {name}_off {t}_off\n#define {name}_mul {t}_mul\n"
            f"#define {name}_size vec2(textureSize({t}, 0))\n"
            f"#define {name}_rot mat2(1.0, 0.0, 0.0, 1.0)\n"
            f"#define {name}_tex(pos) vec4(textureLod({t}, pos, 0.0))\n"
            f"#define {name}_texOff(off) vec4(textureLod({t}, {t}_pos + vec2(off), 0.0))\n"
            f"#define {name}_gather(pos, c) vec4(textureGather({t}, pos, c))\n")


def _descriptor(name: str, headers: tuple[str, ...], binding: int) -> str:
    """A ``//!TEXTURE`` (sampler, or image with STORAGE) or ``//!BUFFER`` (uniform or storage block)."""
    words = {h.split(maxsplit=1)[0]: (h.split(maxsplit=1) + [""])[1].strip() for h in headers}
    if headers[0].startswith("BUFFER"):
        members = "".join(f"    {h[3:].strip()};\n" for h in headers if h.startswith("VAR"))
        kind = "std430, binding = {b}) buffer" if "STORAGE" in words else "std140, binding = {b}) uniform"
        return f"layout({kind.format(b=binding)} pl_hook_buf_{name} {{\n{members}}};\n"
    dims = max(1, min(3, len(words.get("SIZE", "1 1").split())))
    if "STORAGE" in words:
        fmt = words.get("FORMAT", "")
        layout = f"{fmt}, " if re.fullmatch(r"\w+", fmt) else ""
        return f"layout({layout}binding = {binding}) uniform image{dims}D {name};\n"
    return (f"layout(binding = {binding}) uniform sampler{dims}D {name};\n"
            f"#define {name}_tex(pos) textureLod({name}, pos, 0.0)\n")


def _params(text: str) -> str:
    """``//!PARAM`` values at their defaults: DEFINE as a macro, others as constants (libplacebo makes most of them
    uniforms; constants let a loop bounded by a parameter count its trips at the default); enum names as their
    indices."""
    out = []
    for param in source.parse_params(text):
        if param.enum:
            names = param.default.split()
            out += [f"#define {n} {i}\n" for i, n in enumerate(names)]
            out.append(f"#define {param.name} 0\n")
        elif param.type == "DEFINE":
            out.append(f"#define {param.name} {param.default}\n")
        else:
            value = param.default
            if param.type == "float" and re.fullmatch(r"[+-]?\d+", value):
                value += ".0"
            out.append(f"const {param.type} pl_hook_param_{param.name} = {value};\n"
                       f"#define {param.name} pl_hook_param_{param.name}\n")
    return "".join(out)
