"""The GLSL of one shader pass (:class:`PassWriter`), for the passes :class:`~.emit.Emitter` plans.

A pass computes some channels of one value at pixel ``P``: it binds the textures it reads, reads their texels
(``texelFetch`` at clamped integer positions, or a shared-memory tile in a tiled compute pass), sums
convolution taps with the weights written in as literals, applies the pointwise chain after each convolution
inline, and ends in the stores of a fragment pass (``return``) or a compute pass (``imageStore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from kizunasr_vs.compiler.errors import CompileError
from kizunasr_vs.compiler.graph import (
    Binary,
    Concat,
    Conv,
    DepthToSpace,
    Graph,
    Node,
    Pointwise,
    Resize,
    Value,
)

Hook = Literal["MAIN", "LUMA"]
Precision = Literal["fp32", "fp16"]

MAX_BINDS = 16
# Compute passes: workgroup tile sizes tried in order (first whose shared tiles fit the budget).
TILE_SIZES = ((32, 8), (16, 8), (8, 8))
SHARED_BUDGET = 24576  # bytes of shared memory per workgroup (Vulkan guarantees 16 KiB; lavapipe 32, NVIDIA 48)
DEFAULT_BLOCK = (32, 8)
LANES = "xyzw"
HOOK_CHANNELS = {"MAIN": 3, "LUMA": 1}

# A texture read as conv input: texture name, per lane the input channel it holds (or None), and the pointwise
# nodes applied to each texel read, in order, each with the lanes' channels in its own numbering (a CReLU's
# relu(x) and relu(-x) read the stored x).
Lanes = tuple[int | None, ...]
TexLanes = tuple[str, Lanes, tuple[tuple[Pointwise, Lanes], ...]]


def glsl_float(x: float, precision: Precision, what: str = "constant") -> str:
    """A GLSL float literal for ``x`` (rounded to binary16 in fp16 mode, float32 otherwise)."""
    with np.errstate(over="ignore"):
        v = float(np.float16(x)) if precision == "fp16" else float(np.float32(x))
    if not np.isfinite(v):
        raise CompileError(f"{what} {x!r} is not representable in {precision}")
    s = f"{v:.9g}"  # 9 significant digits round-trip any float32 (and so any binary16)
    return s if "e" in s or "." in s else s + ".0"


def groups_of(channels: int) -> int:
    return (channels + 3) // 4


MAX_GRID_COLUMNS = 4  # a packed texture is at most 4x the value's width (3840 x 4 fits Vulkan's usual 16384)


def grid_of(groups: int) -> tuple[int, int]:
    """Texels per pixel (columns, rows) of a packed texture holding ``groups`` vec4 groups."""
    columns = min(MAX_GRID_COLUMNS, int(np.ceil(np.sqrt(groups))))
    return columns, -(-groups // columns)


def packed_texel(pos: str, grid: tuple[int, int], group: int) -> str:
    """GLSL position of group ``group`` of pixel ``pos`` in a packed texture with ``grid`` texels per pixel."""
    gx, gy = grid
    return f"{pos} * ivec2({gx}, {gy}) + ivec2({group % gx}, {group // gx})"


def texture_of(ref: str) -> str:
    """The texture name of a reference: ``name`` or ``name#group`` (one group of a packed texture)."""
    return ref.split("#", 1)[0]


@dataclass
class Pass:
    """One generated shader pass (header fields and GLSL body)."""

    desc: str
    binds: list[str]
    body: str
    save: str | None
    scale: int
    components: int | None = 4
    block: tuple[int, int] | None = None  # //!COMPUTE block size; None for a fragment pass
    grid: tuple[int, int] = (1, 1)  # texels per pixel of a packed output texture (columns, rows)


@dataclass
class Plan:
    """Which values are stored in textures, their texture names, and conv spill state."""

    stored: dict[int, list[str]] = field(default_factory=dict)  # id(Value) -> texture names
    spill: set[int] = field(default_factory=set)  # id(Conv) computed in partial-sum passes
    spilled: dict[tuple[int, int], str] = field(default_factory=dict)  # (id(Conv), group) -> tex


class Planner(Protocol):
    """What a :class:`PassWriter` asks of the pass planner (:class:`~.emit.Emitter`)."""

    graph: Graph
    plan: Plan
    precision: Precision
    compute: bool
    tile: bool

    def read_inline(self, v: Value) -> bool: ...
    def spill_conv(self, conv: Conv, g: int) -> str: ...
    def texel_pos(self, ref: str, pos: str) -> str: ...
    def logical_size(self, ref: str) -> str: ...


class PassWriter:
    """Generates the GLSL of one pass computing ``channels`` of ``root`` at pixel ``P``."""

    def __init__(self, em: Planner, root: Value | None, scale: int, all_groups: bool = False) -> None:
        self.em = em
        self.root = root
        self.scale = scale
        self.consts: list[str] = []
        self.lines: list[str] = []
        self.binds: dict[str, int] = {}  # texture name -> scale
        self.memo: dict[tuple[object, ...], str] = {}
        self.taps: dict[tuple[int, int], tuple[str, str]] = {}  # offset -> (clamped pos, mask)
        self.inlined: list[Conv] = []
        self.tiles: dict[tuple[str, bool], int] = {}  # (texture, edge padded) -> its shared tile's index
        self.block: tuple[int, int] | None = None
        self.all_groups = all_groups  # a packed pass: convs compute every output group, each input read once
        self.n = 0
        self.mp = "mediump " if em.precision == "fp16" else ""

    # ----- small helpers -------------------------------------------------------------------
    def tmp(self, glsl_type: str, expr: str, prefix: str = "t") -> str:
        name = f"kz_{prefix}{self.n}"
        self.n += 1
        self.lines.append(f"    {glsl_type} {name} = {expr};")
        return name

    def lit(self, x: float, what: str = "constant") -> str:
        return glsl_float(x, self.em.precision, what)

    def bind(self, tex: str, scale: int) -> None:
        self.binds.setdefault(texture_of(tex), scale)

    def raw_fetch(self, tex: str, pos: str) -> str:
        if tex == "HOOKED":
            return f"(HOOKED_mul * texelFetch({tex}_raw, {pos}, 0))"
        return f"texelFetch({texture_of(tex)}_raw, {self.em.texel_pos(tex, pos)}, 0)"

    def tile_read(self, tex: str, dy: int, dx: int, edge: bool) -> str:
        """Texel (P + (dx, dy)) of ``tex`` from the workgroup's shared tile, zero- or edge-padded."""
        idx = self.tiles.setdefault((tex, edge), len(self.tiles))
        ref = f"kz_sh{idx}[kz_L.y + {dy + 1}][kz_L.x + {dx + 1}]"
        return ref if tex == "HOOKED" else f"kz_unpack({ref})"

    def fetch(self, tex: str, pos: str, scale: int) -> str:
        """A vec4 variable holding texture ``tex`` at integer position ``pos`` (in range)."""
        key = ("fetch", tex, pos)
        if key not in self.memo:
            self.bind(tex, scale)
            self.memo[key] = self.tmp(f"{self.mp}vec4", self.raw_fetch(tex, pos), "f")
        return self.memo[key]

    def div_pos(self, pos: str, f: int) -> str:
        key = ("div", pos, f)
        if key not in self.memo:
            self.memo[key] = self.tmp("ivec2", f"{pos} / {f}", "p")
        return self.memo[key]

    def sub_index(self, pos: str, b: int) -> str:
        key = ("sub", pos, b)
        if key not in self.memo:
            self.memo[key] = self.tmp("int", f"({pos}.y % {b}) * {b} + {pos}.x % {b}", "s")
        return self.memo[key]

    # ----- values --------------------------------------------------------------------------
    def channel(self, v: Value, c: int, pos: str, scale: int) -> str:
        """GLSL float expression for channel ``c`` of ``v`` at integer position ``pos``."""
        key = ("ch", id(v), c, pos)
        if key in self.memo:
            return self.memo[key]
        em = self.em
        if v is em.graph.input:
            expr = f"{self.fetch('HOOKED', pos, scale)}.{LANES[c]}"
        elif id(v) in em.plan.stored and v is not self.root:
            expr = f"{self.fetch(em.plan.stored[id(v)][c // 4], pos, scale)}.{LANES[c % 4]}"
        else:
            expr = self.node_channel(v.producer, c, pos, scale)
        self.memo[key] = expr
        return expr

    def node_channel(self, n: Node | None, c: int, pos: str, scale: int) -> str:
        if isinstance(n, Conv):
            if pos != "P":
                raise AssertionError("convolutions are only inlined at the pass position")
            return f"{self.conv_group(n, c // 4)}.{LANES[c % 4]}"
        if isinstance(n, Pointwise):
            return self.pointwise(n, self.channel(n.inputs[0], c, pos, scale), c)
        if isinstance(n, Binary):
            a, b = n.inputs
            xa = self.channel(a, c if a.channels > 1 else 0, pos, scale)
            xb = self.channel(b, c if b.channels > 1 else 0, pos, scale)
            op = {"add": "+", "sub": "-", "mul": "*"}[n.kind]
            return self.tmp(f"{self.mp}float", f"{xa} {op} {xb}")
        if isinstance(n, Concat):
            for x in n.inputs:
                if c < x.channels:
                    return self.channel(x, c, pos, scale)
                c -= x.channels
            raise AssertionError("concat channel out of range")
        if isinstance(n, Resize):
            return self.channel(n.inputs[0], c, self.div_pos(pos, n.factor), scale // n.factor)
        if isinstance(n, DepthToSpace):
            return self.depth_to_space(n, c, pos, scale)
        raise AssertionError(f"unexpected node {n!r}")

    def pointwise(self, n: Pointwise, x: str, c: int) -> str:
        a, b = float(n.a[c]), float(n.b[c])
        if n.kind == "relu":
            expr = f"max({x}, 0.0)"
        elif n.kind in ("prelu", "leaky"):
            if a == 1.0:
                return x
            expr = f"max({x}, 0.0) + {self.lit(a, f'{n.name} slope')} * min({x}, 0.0)"
        elif n.kind == "clip":
            if np.isfinite(a) and np.isfinite(b):
                expr = f"clamp({x}, {self.lit(a)}, {self.lit(b)})"
            elif np.isfinite(a):
                expr = f"max({x}, {self.lit(a)})"
            elif np.isfinite(b):
                expr = f"min({x}, {self.lit(b)})"
            else:
                return x
        else:  # affine
            expr = x if a == 1.0 else f"{x} * {self.lit(a, f'{n.name} factor')}"
            if b != 0.0:
                expr = f"{expr} + {self.lit(b, f'{n.name} offset')}"
        return self.tmp(f"{self.mp}float", expr)

    def depth_to_space(self, n: DepthToSpace, c: int, pos: str, scale: int) -> str:
        b = n.block
        src_pos, src_scale = self.div_pos(pos, b), scale // b
        sub = self.sub_index(pos, b)
        cands = [self.channel(n.inputs[0], n.src_channel(c, dy, dx), src_pos, src_scale)
                 for dy in range(b) for dx in range(b)]
        names = {x.rsplit(".", 1)[0] for x in cands}
        if b == 2 and len(names) == 1 and [x.rsplit(".", 1)[-1] for x in cands] == list(LANES):
            return f"{names.pop()}[{sub}]"
        arr = self.tmp(f"{self.mp}float[{b * b}]", f"float[{b * b}]({', '.join(cands)})", "a")
        return f"{arr}[{sub}]"

    # ----- convolution ---------------------------------------------------------------------
    def tex_lanes(self, v: Value) -> list[TexLanes]:
        """The textures holding ``v`` (a stored value, the input, a concat of those, or a pointwise node over them
        that the read applies itself)."""
        em = self.em
        if v is em.graph.input:
            return [("HOOKED", tuple(i if i < v.channels else None for i in range(4)), ())]
        if id(v) in em.plan.stored:
            names = em.plan.stored[id(v)]
            return [(t, tuple(c if c < v.channels else None for c in range(4 * g, 4 * g + 4)), ())
                    for g, t in enumerate(names)]
        if isinstance(v.producer, Concat):
            out: list[TexLanes] = []
            offset = 0
            for x in v.producer.inputs:
                for tex, lanes, how in self.tex_lanes(x):
                    out.append((tex, tuple(None if c is None else c + offset for c in lanes), how))
                offset += x.channels
            return out
        if isinstance(v.producer, Pointwise) and em.read_inline(v):
            inner = self.tex_lanes(v.producer.inputs[0])
            return [(tex, lanes, (*how, (v.producer, lanes))) for tex, lanes, how in inner]
        raise AssertionError(f"{v!r} is read by a convolution but not stored")

    def transformed(self, x: str, how: tuple[tuple[Pointwise, Lanes], ...]) -> str:
        """The vec4 texel ``x`` through the pointwise nodes ``how``, lane by lane (once per pass)."""
        key = ("transformed", x, tuple((id(n), lanes) for n, lanes in how))
        if key in self.memo:
            return self.memo[key]
        for n, lanes in how:
            def per_lane(values: np.ndarray, what: str, lanes: Lanes = lanes) -> str:
                big = float(np.finfo(np.float32).max)
                picked = [0.0 if c is None else float(np.clip(values[c], -big, big)) for c in lanes]
                return f"vec4({', '.join(self.lit(v, what) for v in picked)})"

            if n.kind == "relu":
                x = f"max({x}, vec4(0.0))"
            elif n.kind in ("prelu", "leaky"):
                x = f"max({x}, vec4(0.0)) + {per_lane(n.a, f'{n.name} slope')} * min({x}, vec4(0.0))"
            elif n.kind == "clip":
                x = f"clamp({x}, {per_lane(n.a, f'{n.name} min')}, {per_lane(n.b, f'{n.name} max')})"
            else:  # affine, as pointwise() writes it: no multiply by 1 (a negation for -1), no zero offset
                used = [n.a[c] for c in lanes if c is not None]
                if all(a == -1.0 for a in used):  # a CReLU's second half
                    x = f"-{x}"
                elif not all(a == 1.0 for a in used):
                    x = f"{x} * {per_lane(n.a, f'{n.name} factor')}"
                if any(n.b[c] != 0.0 for c in lanes if c is not None):
                    x = f"{x} + {per_lane(n.b, f'{n.name} offset')}"
            x = self.tmp(f"{self.mp}vec4", x, "x")
        self.memo[key] = x
        return x

    def weight_literal(self, conv: Conv, g: int, lanes: tuple[int | None, ...], dy: int, dx: int
                       ) -> tuple[str, str]:
        """The weights mapping one input texel to output group ``g`` as (GLSL constant, lane): a ``vec4`` and the
        texel's one lane (``".x"``) when the texture holds a single input channel, else a ``mat4`` and ``""``;
        ("", "") if all zero."""
        k = conv.kernel // 2
        outs = range(4 * g, min(4 * g + 4, conv.output.channels))
        m = np.zeros((4, 4))  # [input lane (matrix column), output channel (row)]
        for j, ci in enumerate(lanes):
            if ci is not None:
                m[j, : len(outs)] = conv.weight[list(outs), ci, dy + k, dx + k]
        if not np.any(m):
            return "", ""
        used = [j for j, ci in enumerate(lanes) if ci is not None]
        if len(used) == 1:
            j = used[0]
            return f"vec4({', '.join(self.lit(x, f'{conv.name} weight') for x in m[j])})", f".{LANES[j]}"
        return f"mat4({', '.join(self.lit(x, f'{conv.name} weight') for x in m.reshape(-1))})", ""

    def tap(self, dy: int, dx: int, tex: str) -> tuple[str, str | None]:
        """Clamped position and 0/1 zero-padding mask for a tap offset around ``P``.

        ``tex`` is any texture at the pass scale (conv inputs all have the output's size).
        """
        if dy == 0 and dx == 0:
            return "P", None
        if (dy, dx) not in self.taps:
            size = self.memo.get(("size",))
            if size is None:
                size = self.memo[("size",)] = self.tmp("ivec2", self.em.logical_size(tex), "S")
            q = self.tmp("ivec2", f"P + ivec2({dx}, {dy})", "q")
            cq = self.tmp("ivec2", f"clamp({q}, ivec2(0), {size} - 1)", "c")
            self.taps[dy, dx] = (cq, self.tmp("float", f"{q} == {cq} ? 1.0 : 0.0", "m"))
        return self.taps[dy, dx]

    def conv_sum(self, conv: Conv, g: int, texs: list[TexLanes], init: str) -> str:
        """Accumulate ``conv`` output group ``g`` over ``texs`` onto the vec4 expression ``init``.

        Straight-line code, one ``const mat4`` per (tap, input texture): drivers fold them into
        immediates. (A loop over taps indexing a const array compiled orders of magnitude
        slower on Mesa lavapipe.)
        """
        for tex, _, _ in texs:
            self.bind(tex, self.scale)
        acc = self.tmp(f"{self.mp}vec4", init, "acc")
        k = conv.kernel // 2
        # compute passes read 3x3 taps from shared tiles (padding applied when loading)
        tiled = self.em.compute and self.em.tile and conv.kernel == 3
        for dy in range(-k, k + 1):
            for dx in range(-k, k + 1):
                terms = []
                for tex, lanes, how in texs:
                    w, lane = self.weight_literal(conv, g, lanes, dy, dx)
                    if not w:
                        continue
                    name = self.const_weight(w)
                    x = (self.tile_read(tex, dy, dx, conv.edge) if tiled
                         else self.fetch(tex, self.tap(dy, dx, tex)[0], self.scale))
                    terms.append(f"{name} * {self.transformed(x, how) if how else x}{lane}")
                if not terms:
                    continue
                m = None if tiled or conv.edge else self.tap(dy, dx, texs[0][0])[1]
                joined = "\n        + ".join(terms)
                self.lines.append(f"    {acc} += {joined};" if m is None else f"    {acc} += {m} * ({joined});")
        return acc

    def conv_sum_all(self, conv: Conv, texs: list[TexLanes]) -> list[str]:
        """Every output group of ``conv`` (bias included): each input texel is read once per tap and
        feeds all groups (a packed pass computes all channels of its value)."""
        for tex, _, _ in texs:
            self.bind(tex, self.scale)
        groups = groups_of(conv.output.channels)
        accs = [self.tmp(f"{self.mp}vec4", self.bias(conv, g), "acc") for g in range(groups)]
        k = conv.kernel // 2
        tiled = self.em.tile and conv.kernel == 3
        for dy in range(-k, k + 1):
            for dx in range(-k, k + 1):
                for tex, lanes, how in texs:
                    weights = [self.weight_literal(conv, g, lanes, dy, dx) for g in range(groups)]
                    if not any(w for w, _ in weights):
                        continue
                    mask = None
                    if tiled:
                        x = self.tile_read(tex, dy, dx, conv.edge)
                    else:
                        pos, mask = self.tap(dy, dx, tex)
                        x = self.fetch(tex, pos, self.scale)  # read once for every group and transform of it
                    x = self.transformed(x, how) if how else x
                    xv = x if mask is None or conv.edge else self.tmp(f"{self.mp}vec4", f"{mask} * {x}", "x")
                    for acc, (w, lane) in zip(accs, weights, strict=True):
                        if w:
                            self.lines.append(f"    {acc} += {self.const_weight(w)} * {xv}{lane};")
        return accs

    def const_weight(self, literal: str) -> str:
        """A new ``const mat4`` or ``const vec4`` holding ``literal``; returns its name."""
        name = f"kz_w{len(self.consts)}"
        self.consts.append(f"const {literal.split('(', 1)[0]} {name} = {literal};")
        return name

    def bias(self, conv: Conv, g: int) -> str:
        outs = range(4 * g, min(4 * g + 4, conv.output.channels))
        vals = [self.lit(conv.bias[o], f"{conv.name} bias") for o in outs]
        return f"vec4({', '.join(vals + ['0.0'] * (4 - len(vals)))})"

    def conv_group(self, conv: Conv, g: int) -> str:
        """vec4 variable with output channels 4g..4g+3 of ``conv`` at ``P``."""
        key = ("conv", id(conv), g)
        if key in self.memo:
            return self.memo[key]
        em = self.em
        if id(conv) in em.plan.spill:
            tex = em.spill_conv(conv, g)
            result = self.fetch(tex, "P", self.scale)
        elif self.all_groups:
            if conv not in self.inlined:
                self.inlined.append(conv)
            accs = self.conv_sum_all(conv, self.tex_lanes(conv.inputs[0]))
            for i, acc in enumerate(accs):
                self.memo["conv", id(conv), i] = acc
            result = accs[g]
        else:
            if conv not in self.inlined:
                self.inlined.append(conv)
            result = self.conv_sum(conv, g, self.tex_lanes(conv.inputs[0]), self.bias(conv, g))
        self.memo[key] = result
        return result

    # ----- assembly ------------------------------------------------------------------------
    def finish(self, out_exprs: list[str], fill: str = "0.0", grid: tuple[int, int] = (1, 1)) -> str:
        """The pass body: constants, then ``hook()`` computing the output lanes (4, or 4 per group of a
        packed pass with ``grid``)."""
        if not self.binds:
            self.bind("HOOKED", 1)
        vals = (out_exprs + [fill] * (-len(out_exprs) % 4)) if out_exprs else [fill] * 4
        if self.em.compute:
            return self._finish_compute(vals, grid)
        ref = min(self.binds, key=lambda t: (self.binds[t] != self.scale, t != "HOOKED", t))
        ratio = self.scale // self.binds[ref]
        pos = f"{ref}_pos * {ref}_size" + (f" * {float(ratio)}" if ratio != 1 else "")
        body = [
            *self.consts,
            "",
            "vec4 hook() {",
            f"    ivec2 P = ivec2(floor({pos}));",
            *self.lines,
            f"    return vec4({', '.join(vals)});",
            "}",
        ]
        return "\n".join(body)

    def _finish_compute(self, vals: list[str], grid: tuple[int, int] = (1, 1)) -> str:
        """``//!COMPUTE`` body: one thread per output pixel; 3x3 conv inputs staged in shared
        memory once per workgroup (intermediate textures packed as 4 halves: they are rgba16f)."""
        tiles = [(tex, edge, i) for (tex, edge), i in sorted(self.tiles.items(), key=lambda kv: kv[1])]
        bw, bh = DEFAULT_BLOCK
        if tiles:
            per_texel = sum(16 if t == "HOOKED" else 8 for t, _, _ in tiles)
            for bw, bh in TILE_SIZES:
                if (bw + 2) * (bh + 2) * per_texel <= SHARED_BUDGET:
                    break
            else:
                raise AssertionError("shared tiles do not fit")  # 16 binds x 8x8 tiles always fit
        self.block = (bw, bh)
        tw, th = bw + 2, bh + 2
        head: list[str] = []
        load: list[str] = []
        if tiles:
            if any(t != "HOOKED" for t, _, _ in tiles):
                head.append("vec4 kz_unpack(uvec2 u) { return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y)); }")
            for t, _, i in tiles:
                head.append(f"shared {'vec4' if t == 'HOOKED' else 'uvec2'} kz_sh{i}[{th}][{tw}];")
            load = [
                "    ivec2 kz_L = ivec2(gl_LocalInvocationID.xy);",
                f"    ivec2 kz_O = ivec2(gl_WorkGroupID.xy) * ivec2({bw}, {bh}) - 1;",
                f"    ivec2 kz_TS = {self.em.logical_size(tiles[0][0])};",
                f"    for (int kz_i = int(gl_LocalInvocationIndex); kz_i < {tw * th}; kz_i += {bw * bh}) {{",
                f"        ivec2 kz_t = ivec2(kz_i % {tw}, kz_i / {tw});",
                "        ivec2 kz_tq = kz_O + kz_t;",
                "        ivec2 kz_tc = clamp(kz_tq, ivec2(0), kz_TS - 1);",
                "        bool kz_in = kz_tq == kz_tc;",
            ]
            for t, edge, i in tiles:  # edge padded: the clamped texel; else zero outside the texture
                v = self.raw_fetch(t, "kz_tc")
                if t == "HOOKED":
                    value = v if edge else f"kz_in ? {v} : vec4(0.0)"
                    load.append(f"        kz_sh{i}[kz_t.y][kz_t.x] = {value};")
                else:
                    packed = f"uvec2(packHalf2x16(kz_v{i}.xy), packHalf2x16(kz_v{i}.zw))"
                    value = packed if edge else f"kz_in ? {packed} : uvec2(0u)"
                    load += [f"        vec4 kz_v{i} = {v};", f"        kz_sh{i}[kz_t.y][kz_t.x] = {value};"]
            load += ["    }", "    barrier();"]
        body = [
            *self.consts,
            *head,
            "",
            "void hook() {",
            *load,
            "    ivec2 P = ivec2(gl_GlobalInvocationID.xy);",
            "    if (any(greaterThanEqual(P, imageSize(out_image)"
            + (")))" if grid == (1, 1) else f" / ivec2({grid[0]}, {grid[1]}))))"),
            "        return;",
            *self.lines,
            *self._stores(vals, grid),
            "}",
        ]
        return "\n".join(body)

    @staticmethod
    def _stores(vals: list[str], grid: tuple[int, int]) -> list[str]:
        if grid == (1, 1):
            return [f"    imageStore(out_image, P, vec4({', '.join(vals)}));"]
        return [f"    imageStore(out_image, {packed_texel('P', grid, g)}, vec4({', '.join(vals[4 * g:4 * g + 4])}));"
                for g in range(len(vals) // 4)]
