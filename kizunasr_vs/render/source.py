"""Loading and parsing mpv / libplacebo user shaders (https://libplacebo.org/custom-shaders/).

Only what KizunaSR needs before handing the text to libplacebo is modelled here: the pass
headers (``//!HOOK``, ``//!BIND``, ``//!SAVE``, ``//!WIDTH``/``//!HEIGHT``/``//!WHEN`` RPN
expressions ...), the ``//!PARAM`` blocks (to override their defaults) and a simulation of
the texture sizes, so the output size of a shader can be known when the filter is created.

The block structure and the RPN semantics follow libplacebo's ``src/shaders/custom_mpv.c``:
a block is a run of ``//!`` header lines followed by a body that ends at the next ``//!``;
RPN maths is done in float32 and sizes are rounded half away from zero.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import vapoursynth as vs

from kizunasr_vs.core.errors import FilterError
from kizunasr_vs.core.resources import shader_path

Size = tuple[int, int]

# Stages, in firing order, that fire for the YUV444P16 (no alpha) frames vs-placebo's Shader renders. RGB, ALPHA
# and XYZ are input planes we never have; CHROMA_SCALED only fires for subsampled chroma.
_FIRED = ("LUMA", "CHROMA", "NATIVE", "MAINPRESUB", "LINEAR", "SIGMOID", "PREKERNEL",
          "POSTKERNEL", "SCALED", "PREOUTPUT", "OUTPUT")
# Stages whose size a pass may change ("User hook tried resizing non-resizable stage!").
_RESIZABLE = frozenset({"RGB", "LUMA", "CHROMA", "ALPHA", "XYZ", "NATIVE", "MAINPRESUB"})
_PASS_HEADERS = ("HOOK", "BIND", "SAVE", "DESC", "OFFSET", "WIDTH", "HEIGHT", "WHEN", "COMPONENTS", "COMPUTE")
_PARAM_HEADERS = ("PARAM", "DESC", "MINIMUM", "MAXIMUM", "TYPE")
# libplacebo aborts the process (SIGABRT) on a texture beyond the GPU's max_tex_2d_dim: 16384 on lavapipe and most
# Vulkan drivers (NVIDIA allows 32768; the smaller bound holds everywhere and is 4x a 4K frame).
MAX_TEXTURE_SIZE = 16384
_INT_LIMITS = {"int": (-(2**31), 2**31 - 1), "uint": (0, 2**32 - 1), "DEFINE": (-(2**31), 2**31 - 1)}


class TextureTooLarge(FilterError):
    """A texture size beyond MAX_TEXTURE_SIZE: no width=/height= can help, the shader must change."""


def check_texture_size(width: int, height: int, what: str) -> None:
    """Raise TextureTooLarge when ``width`` x ``height`` does not fit one libplacebo texture."""
    if max(width, height) > MAX_TEXTURE_SIZE:
        raise TextureTooLarge(f"{what} is {width}x{height}, beyond libplacebo's texture limit of {MAX_TEXTURE_SIZE} "
                              "per side (the GPU driver would abort the process)")


@dataclass(frozen=True)
class ShaderSource:
    """A user shader: a display name (file name or ``//!DESC``) and its text."""

    name: str
    text: str


@dataclass(frozen=True)
class ShaderPass:
    """The headers of one hook pass (expressions are RPN strings; None means the default)."""

    hooks: tuple[str, ...]
    binds: tuple[str, ...] = ()
    save: str | None = None
    width: str | None = None  # default: HOOKED.w
    height: str | None = None  # default: HOOKED.h
    when: str | None = None  # default: always
    desc: str = "unknown user shader"
    components: int | None = None
    offset: str | None = None
    compute: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ShaderParam:
    """A ``//!PARAM`` block; ``span`` is where its default value text lies in the source."""

    name: str
    type: str  # "float", "int", "uint" or "DEFINE"
    enum: bool
    minimum: float
    maximum: float
    default: str
    span: tuple[int, int]


@dataclass(frozen=True)
class _Block:
    headers: tuple[str, ...]  # header lines without the leading "//!"
    body_start: int
    body_end: int


# ---------------------------------------------------------------------------------------------
# Loading


def load_shader(path_or_text: str | os.PathLike[str]) -> ShaderSource:
    """Load a shader by built-in name or path (``resources.shader_path``), or wrap source text (a ``str``
    containing ``//!``)."""
    if isinstance(path_or_text, str) and "//!" in path_or_text:
        return ShaderSource(_inline_name(path_or_text), path_or_text)
    if not isinstance(path_or_text, str | os.PathLike):
        raise FilterError(f"shaders must be built-in names, paths or shader source text, not {path_or_text!r}")
    try:
        path = shader_path(path_or_text)
    except FileNotFoundError as exc:
        raise FilterError(f"{exc} (or pass the shader source text itself)") from None
    return ShaderSource(path.name, path.read_text(encoding="utf-8", errors="replace"))


def _inline_name(text: str) -> str:
    blocks = [b for b in split_blocks(text) if _kind(b) == "PASS"]
    descs = [h[4:].strip() for b in blocks for h in b.headers if h.startswith("DESC")]
    return f"<inline: {descs[0]}>" if descs and descs[0] else "<inline shader>"


# ---------------------------------------------------------------------------------------------
# Block parsing


def split_blocks(text: str) -> list[_Block]:
    """Split like libplacebo: header lines starting with ``//!``, then a body up to the next ``//!``."""
    pos = text.find("//!")
    blocks: list[_Block] = []
    while 0 <= pos < len(text):
        headers: list[str] = []
        while pos < len(text):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            line = text[pos:end].strip()
            if not line.startswith("//!"):
                break
            headers.append(line[3:])
            pos = end + 1
        nxt = text.find("//!", pos) if pos < len(text) else -1
        body_end = len(text) if nxt < 0 else nxt
        blocks.append(_Block(tuple(headers), min(pos, len(text)), body_end))
        pos = nxt
    return blocks


def _kind(block: _Block) -> str:
    first = block.headers[0] if block.headers else ""
    for kind in ("TEXTURE", "BUFFER", "PARAM"):
        if first.startswith(kind):
            return kind
    return "PASS"


def _split_word(header: str, words: Iterable[str]) -> tuple[str, str]:
    """Split a header into its directive (longest known prefix) and argument."""
    for word in sorted(words, key=len, reverse=True):
        if header.startswith(word):
            return word, header[len(word):].strip()
    raise FilterError(f"unrecognised directive '//!{header}'")


def _parse_pass(block: _Block) -> ShaderPass:
    hooks: list[str] = []
    binds: list[str] = []
    args: dict[str, str] = {}
    save: str | None = None
    components: int | None = None
    compute: tuple[int, ...] | None = None
    for header in block.headers:
        word, arg = _split_word(header, _PASS_HEADERS)
        if word == "HOOK":
            hooks.append(arg)
        elif word == "BIND":
            binds.append(arg)
        elif word == "SAVE":
            save = None if arg == "HOOKED" else ("MAINPRESUB" if arg == "MAIN" else arg)
        elif word == "COMPONENTS":
            components = _parse_int(arg, header)
        elif word == "COMPUTE":
            compute = tuple(_parse_int(v, header) for v in arg.split())
        else:
            args[word] = arg
    return ShaderPass(
        tuple(hooks), tuple(binds), save, args.get("WIDTH"), args.get("HEIGHT"), args.get("WHEN"),
        args.get("DESC", "unknown user shader"), components, args.get("OFFSET"), compute,
    )


def _parse_int(value: str, header: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise FilterError(f"'//!{header}': '{value}' is not an integer") from None


def parse_passes(text: str) -> list[ShaderPass]:
    """The hook passes of a shader, in file order (TEXTURE, BUFFER and PARAM blocks skipped)."""
    return [_parse_pass(b) for b in split_blocks(text) if _kind(b) == "PASS"]


def parse_params(text: str) -> list[ShaderParam]:
    """The ``//!PARAM`` blocks of a shader, with their bounds and default value text."""
    return [_parse_param(text, b) for b in split_blocks(text) if _kind(b) == "PARAM"]


def params_as_defines(text: str) -> str:
    """The shader for renderers without ``//!PARAM`` (mpv < 0.36, whose parser logs "Unrecognized command
    'PARAM ...'"): the PARAM blocks removed, their defaults ``#define``d at the top of every pass."""
    params = parse_params(text)
    if not params:
        return text
    defines = "".join(f"#define {p.name} {_define_value(p)}\n" for p in params)
    first = text.find("//!")
    out = [text[:first]]
    for block in split_blocks(text):
        kind = _kind(block)
        if kind == "PARAM":
            continue
        out += [f"//!{header}\n" for header in block.headers]
        out.append((defines if kind == "PASS" else "") + text[block.body_start:block.body_end])
    return "".join(out)


def _define_value(param: ShaderParam) -> str:
    """A float default as a float literal (GLSL ES has no int -> float conversion); others as written."""
    if param.type == "float" and re.fullmatch(r"[+-]?\d+", param.default):
        return param.default + ".0"
    return param.default


def _parse_param(text: str, block: _Block) -> ShaderParam:
    name, ptype, enum = "", "", False
    bounds: dict[str, str] = {}
    for header in block.headers:
        word, arg = _split_word(header, _PARAM_HEADERS)
        if word == "PARAM":
            name = arg
        elif word in ("MINIMUM", "MAXIMUM"):
            bounds[word] = arg
        elif word == "TYPE":
            ptype, enum = _param_type(arg)
    if not ptype:
        raise FilterError(f"//!PARAM {name}: missing //!TYPE")
    low, high = _INT_LIMITS.get(ptype, (-math.inf, math.inf))
    try:
        minimum = float(bounds.get("MINIMUM", low))
        maximum = float(bounds.get("MAXIMUM", high))
    except ValueError:
        raise FilterError(f"//!PARAM {name}: bad //!MINIMUM or //!MAXIMUM {bounds}") from None
    default = text[block.body_start:block.body_end].strip()
    return ShaderParam(name, ptype, enum, minimum, maximum, default, (block.body_start, block.body_end))


def _param_type(arg: str) -> tuple[str, bool]:
    """``[ENUM] [DYNAMIC|CONSTANT] type`` or ``[ENUM] DEFINE`` -> (type, is_enum)."""
    words = arg.split()
    enum = bool(words) and words[0] == "ENUM"
    words = [w for w in words if w not in ("ENUM", "DYNAMIC", "CONSTANT")]
    ptype = words[0] if words else ""
    if ptype not in ("float", "int", "uint", "DEFINE"):
        raise FilterError(f"'//!TYPE {arg}': the type must be float, int, uint or DEFINE")
    return ptype, enum


def param_values(text: str) -> dict[str, float]:
    """Current numeric values of the non-enum params (usable as RPN variables)."""
    values: dict[str, float] = {}
    for p in parse_params(text):
        if not p.enum:
            try:
                values[p.name] = float(p.default)
            except ValueError:
                continue
    return values


# ---------------------------------------------------------------------------------------------
# Params


def apply_params(text: str, params: Mapping[str, float | int]) -> str:
    """Rewrite the default value of the named ``//!PARAM`` blocks; validates names and bounds."""
    if not params:
        return text
    declared = {p.name: p for p in parse_params(text)}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise FilterError(f"unknown shader param(s) {', '.join(unknown)}; this shader declares: {known}")
    edits = sorted(((declared[k], v) for k, v in params.items()), key=lambda e: e[0].span[0], reverse=True)
    for param, value in edits:
        start, end = param.span
        body = text[start:end]
        lead = len(body) - len(body.lstrip())
        tail = len(body.rstrip())
        text = text[:start] + body[:lead] + _format_value(param, value) + body[tail:] + text[end:]
    return text


def _format_value(param: ShaderParam, value: float | int) -> str:
    if param.enum:
        raise FilterError(f"param '{param.name}' is an ENUM; enum params cannot be overridden")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FilterError(f"param '{param.name}': value {value!r} is not a finite number")
    if param.type != "float" and value != int(value):
        raise FilterError(f"param '{param.name}' is {param.type}; {value!r} is not an integer")
    if not param.minimum <= value <= param.maximum:
        raise FilterError(
            f"param '{param.name}': {value!r} is outside the declared range "
            f"[{_fmt_bound(param.minimum)}, {_fmt_bound(param.maximum)}]"
        )
    if param.type != "float":
        return str(int(value))
    return format(Decimal(repr(float(value))), "f")  # no exponent: libplacebo parses plain decimals


def _fmt_bound(v: float) -> str:
    return str(int(v)) if math.isfinite(v) and v == int(v) else str(v)


# ---------------------------------------------------------------------------------------------
# RPN expressions


def _tex_ref(token: str) -> tuple[str, int] | None:
    """``NAME.w``/``NAME.width`` -> (NAME, 0); ``.h``/``.height`` -> (NAME, 1); else None."""
    for suffix, axis in ((".width", 0), (".height", 1), (".w", 0), (".h", 1)):
        if token.endswith(suffix):
            return token[: -len(suffix)], axis
    return None


def texture_refs(expr: str) -> set[str]:
    """Texture names an RPN expression reads the size of."""
    return {ref[0] for ref in map(_tex_ref, expr.split()) if ref is not None}


def _lookup_size(name: str, sizes: Mapping[str, Size]) -> Size:
    for alias in (name, {"MAIN": "MAINPRESUB", "MAINPRESUB": "MAIN"}.get(name, name)):
        if alias in sizes:
            return sizes[alias]
    raise FilterError(f"texture '{name}' is not available here (known: {', '.join(sorted(sizes)) or 'none'})")


def _apply_op(op: str, stack: list[np.float32], expr: str) -> None:
    arity = 1 if op == "!" else 2
    if len(stack) < arity:
        raise FilterError(f"RPN expression '{expr}': stack underflow at '{op}'")
    if op == "!":
        stack.append(np.float32(stack.pop() == 0))
        return
    b, a = stack.pop(), stack.pop()
    with np.errstate(all="ignore"):
        res = {
            "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
            "%": lambda: np.fmod(a, b), ">": lambda: np.float32(a > b), "<": lambda: np.float32(a < b),
            "=": lambda: np.float32(abs(a - b) <= 1e-6 * max(a, b)),
        }[op]()
    if not np.isfinite(res):
        raise FilterError(f"RPN expression '{expr}': illegal operation '{op}' on {a} and {b}")
    stack.append(np.float32(res))


def eval_rpn(expr: str, sizes: Mapping[str, Size], variables: Mapping[str, float] | None = None) -> float:
    """Evaluate a WIDTH/HEIGHT/WHEN RPN expression (float32 maths, like libplacebo).

    ``sizes`` maps texture names to (w, h) (``MAIN`` and ``MAINPRESUB`` are aliases);
    ``variables`` maps ``//!PARAM`` names to values. Unknown names raise ``vs.Error``.
    """
    stack: list[np.float32] = []
    for token in expr.split():
        ref = _tex_ref(token)
        if ref is not None:
            stack.append(np.float32(_lookup_size(ref[0], sizes)[ref[1]]))
        elif token[0] in "+-*/%!><=":
            _apply_op(token[0], stack, expr)
        elif token[0].isdigit():
            try:
                with np.errstate(over="ignore"):  # beyond float32 is inf, as for libplacebo; sizes check for it
                    stack.append(np.float32(float(token)))
            except ValueError:
                raise FilterError(f"RPN expression '{expr}': bad number '{token}'") from None
        elif variables is not None and token in variables:
            stack.append(np.float32(variables[token]))
        else:
            raise FilterError(f"RPN expression '{expr}': unknown variable '{token}'")
    if len(stack) != 1:
        raise FilterError(f"RPN expression '{expr}': malformed (leaves {len(stack)} values on the stack)")
    return float(stack[0])


def round_size(value: float) -> int:
    """Round a size like C's ``roundf`` (half away from zero)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


# ---------------------------------------------------------------------------------------------
# Output size inference


class _Sim:
    """Simulates libplacebo's texture sizes while one shader renders a YUV444 frame."""

    def __init__(self, text: str, width: int, height: int) -> None:
        blocks = split_blocks(text)
        self.passes = [_parse_pass(b) for b in blocks if _kind(b) == "PASS"]
        named = [b for b in blocks if _kind(b) in ("TEXTURE", "BUFFER")]
        self.descriptors = {b.headers[0].split(maxsplit=1)[-1] for b in named}
        self.variables = param_values(text)
        self.sizes: dict[str, Size] = {"NATIVE_CROPPED": (width, height)}
        self.image: Size = (width, height)
        self.planes: dict[str, Size] = {"LUMA": (width, height), "CHROMA": (width, height)}
        self.runs: list[tuple[int, str, Size]] = []  # (pass index, stage, size it renders) of each pass that runs

    def run(self) -> Size:
        for stage in _FIRED:
            current = self.planes.get(stage, self.image)
            current = self._run_stage(stage, current)
            if stage in ("LUMA", "NATIVE", "MAINPRESUB"):
                self.image = current  # luma is the reference plane; NATIVE/MAIN are the image
        return self.image

    def _run_stage(self, stage: str, current: Size) -> Size:
        self.sizes[stage] = current
        for index, p in enumerate(self.passes):
            if stage not in (h if h != "MAIN" else "MAINPRESUB" for h in p.hooks):
                continue
            ctx = {**self.sizes, "HOOKED": current}
            if not self._runs(p, ctx):
                continue
            new = (self._size(p, p.width or "HOOKED.w", ctx), self._size(p, p.height or "HOOKED.h", ctx))
            self.runs.append((index, stage, new))
            target = p.save or stage
            check_texture_size(*new, f"pass '{p.desc}': its {target} texture")
            self.sizes[target] = new
            if target == stage:
                if new != current and stage not in _RESIZABLE:
                    raise FilterError(
                        f"pass '{p.desc}' changes the size of {stage}, which libplacebo does not allow "
                        "(only LUMA, CHROMA, NATIVE and MAIN may be resized)"
                    )
                current = new
        return current

    def _runs(self, p: ShaderPass, ctx: Mapping[str, Size]) -> bool:
        """WHEN is true and every bound texture exists (libplacebo silently skips the pass otherwise).

        A WHEN that reads OUTPUT (mpv's "only when enlarged for display", e.g. ``OUTPUT.w MAIN.w / 1.2 >``) is
        taken as true: in VapourSynth the render's output is the size the shader makes, so a shader asked for
        upscales, and the render target it is then given makes the condition true when libplacebo checks it."""
        if p.when is not None and "OUTPUT" not in texture_refs(p.when) and not eval_rpn(
                self._checked(p, p.when), ctx, self.variables):
            return False
        bound = set(ctx) | self.descriptors | ({"MAIN"} if "MAINPRESUB" in ctx else set())
        return all(b in bound for b in p.binds)

    def _size(self, p: ShaderPass, expr: str, ctx: Mapping[str, Size]) -> int:
        raw = eval_rpn(self._checked(p, expr), ctx, self.variables)
        if raw > 2**31:  # (+inf too: a float32 overflow such as 1e40); smaller ones get check_texture_size's message
            raise TextureTooLarge(f"pass '{p.desc}': '{expr}' gives a size of {raw:g}, beyond libplacebo's texture "
                                  f"limit of {MAX_TEXTURE_SIZE} per side")
        value = round_size(raw) if math.isfinite(raw) else 0
        if value <= 0:
            raise FilterError(f"pass '{p.desc}': '{expr}' gives a size of {value}")
        return value

    @staticmethod
    def _checked(p: ShaderPass, expr: str) -> str:
        if "OUTPUT" in texture_refs(expr):
            raise FilterError(f"pass '{p.desc}' depends on the display size ('{expr}' reads OUTPUT)")
        return expr


def infer_output_size(
    shaders: ShaderSource | str | Sequence[ShaderSource | str], in_w: int, in_h: int
) -> Size:
    """The output size of running ``shaders`` one after another, one render each.

    Texture sizes are simulated for a 4:4:4 YUV input: LUMA/CHROMA/NATIVE/MAIN start at the input
    size; passes resize the texture they hook (or save), LUMA resizes the image. A shader whose
    size depends on OUTPUT (the display size) or on an unknown texture raises ``vs.Error``; a texture
    larger than libplacebo allows raises ``TextureTooLarge``.
    """
    items = [shaders] if isinstance(shaders, ShaderSource | str) else list(shaders)
    size = (in_w, in_h)
    for item in items:
        src = item if isinstance(item, ShaderSource) else ShaderSource(_inline_name(item), item)
        try:
            size = _Sim(src.text, *size).run()
        except TextureTooLarge as exc:
            raise TextureTooLarge(f"shader '{src.name}': {exc}; lower the factor in its //!WIDTH or //!HEIGHT") \
                from exc
        except vs.Error as exc:
            raise FilterError(
                f"shader '{src.name}': cannot work out its output size: {exc}; "
                "pass width= and height= explicitly"
            ) from exc
    return size


def pass_runs(text: str, width: int, height: int) -> list[tuple[int, str, Size]]:
    """(index in ``parse_passes``, stage, size it renders) of every pass that runs when ``text`` renders a 4:4:4
    frame of ``width`` x ``height``, in order (a pass hooking two stages runs twice). Errors as
    ``infer_output_size``."""
    sim = _Sim(text, width, height)
    sim.run()
    return sim.runs


def check_user_shader(src: ShaderSource) -> None:
    """Raise ``vs.Error`` unless the text has at least one ``//!HOOK`` pass."""
    if not re.search(r"^\s*//!HOOK\b", src.text, flags=re.MULTILINE):
        raise FilterError(
            f"shader '{src.name}': no //!HOOK directive found; this is not an mpv/libplacebo user shader "
            "(see https://libplacebo.org/custom-shaders/)"
        )
