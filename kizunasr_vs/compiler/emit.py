"""Turn a normalised :class:`~.graph.Graph` into mpv / libplacebo user-shader passes.

Plan
----
Every tensor that a convolution reads (and the graph output) is *materialised*: written by
``//!COMPUTE`` passes (one thread per output pixel, ``imageStore``) into textures of 4 channels
each (``//!SAVE``, ``//!COMPONENTS 4``), one pass per texture. Everything else is *inlined*:
a convolution and the pointwise chain after it (activation, affine, residual add, clip ...) run
in the pass that stores the end of that chain; nearest resize, depth-to-space and concat become
index arithmetic on the textures they read.
The last pass hooks MAIN (3-channel models) or LUMA (1-channel models), has the model's output
size (``//!WIDTH HOOKED.w 2 *``) and replaces the hooked image. A final depth-to-space folds into it:
its threads run at the size before the shuffle and each stores its block of output pixels. A conv
input texture holding one channel is read as a scalar (``vec4 * x.x``), not through a ``mat4``.

Reads use ``texelFetch`` at integer pixel positions. Convolution taps clamp the position into
the texture and multiply by a 0/1 mask, which reproduces ONNX zero padding exactly; an edge-padded
convolution (``Conv.edge``) keeps the clamped position alone, which repeats the edge pixel.

libplacebo and mpv allow 16 ``//!BIND`` per pass; a convolution that would need more is split
into partial-sum passes.

This module plans the passes and renders their headers; ``pass_writer`` writes each pass's GLSL body.
"""

from __future__ import annotations

from kizunasr_vs.compiler.errors import CompileError
from kizunasr_vs.compiler.graph import Binary, Concat, Conv, DepthToSpace, Graph, Pointwise, Value
from kizunasr_vs.compiler.pass_writer import (
    HOOK_CHANNELS,
    LANES,
    MAX_BINDS,
    Hook,
    Pass,
    PassWriter,
    Plan,
    Precision,
    TexLanes,
    grid_of,
    groups_of,
    packed_texel,
    texture_of,
)

__all__ = ["Emitter", "Hook", "Precision"]


class Emitter:
    """Plans storage for a graph and renders the shader passes."""

    def __init__(self, graph: Graph, hook: Hook, precision: Precision, *, compute: bool = True,
                 tile: bool = False, pack: bool = False) -> None:
        """``compute``: ``//!COMPUTE`` passes (default) rather than fragment passes, which some GPUs (the H100)
        run on a small part of the chip. ``tile``: stage 3x3 conv inputs in shared memory
        (a little faster on a GPU, much slower to run and compile on lavapipe). Figures for both:
        docs/BENCHMARKS.md, compiled models.
        ``pack`` (compute only): one pass per stored value instead of one per 4 channels; its
        groups of 4 channels sit side by side in one texture (``grid_of`` texels per pixel), so each
        input texel is read once per pass instead of once per output group."""
        if hook not in HOOK_CHANNELS:
            raise CompileError(f"hook must be MAIN or LUMA, not {hook!r}")
        if precision not in ("fp32", "fp16"):
            raise CompileError(f"precision must be fp32 or fp16, not {precision!r}")
        want = HOOK_CHANNELS[hook]
        for what, v in (("input", graph.input), ("output", graph.output)):
            if v.channels != want:
                raise CompileError(f"hook {hook} needs a {want}-channel model; the {what} has "
                                   f"{v.channels} channels (use --hook {'LUMA' if want == 3 else 'MAIN'}?)")
        self.graph = graph
        self.hook = hook
        self.precision = precision
        self.compute = compute
        self.tile = tile
        self.pack = pack and compute
        self.layouts: dict[str, tuple[int, int]] = {}  # packed texture -> grid
        self.plan = Plan()
        self.passes: list[Pass] = []
        self.order = self._materialised()

    # ----- planning ------------------------------------------------------------------------
    def _chain_end(self, v: Value) -> Value:
        """Follow single-use pointwise consumers of a conv output: that whole chain fuses."""
        while v is not self.graph.output and len(v.consumers) == 1:
            user = v.consumers[0]
            if not isinstance(user, Pointwise | Binary):
                break
            v = user.output
        return v

    def read_inline(self, v: Value) -> bool:
        """Whether a convolution reads pointwise ``v`` by applying it to texels of its input, instead of a stored
        ``v``: when the input is stored anyway because several nodes use it (a CReLU: relu(x) and relu(-x))."""
        assert isinstance(v.producer, Pointwise)
        source = v.producer.inputs[0]
        while isinstance(source.producer, Pointwise) and len(source.consumers) == 1:
            source = source.producer.inputs[0]
        return source is self.graph.input or (
            isinstance(source.producer, Conv) and len(source.consumers) > 1 and self._chain_end(source) is source)

    def _materialised(self) -> list[Value]:
        """Values stored in textures, in topological order (the graph output excluded)."""
        g = self.graph
        keep: set[int] = set()

        def readable(v: Value) -> None:
            if v is g.input:
                return
            if isinstance(v.producer, Concat):
                for x in v.producer.inputs:
                    readable(x)
                return
            if isinstance(v.producer, Pointwise) and self.read_inline(v):
                readable(v.producer.inputs[0])
                return
            keep.add(id(v))

        for n in g.nodes:
            if isinstance(n, Conv):
                readable(n.inputs[0])
                keep.add(id(self._chain_end(n.output)))
        keep.discard(id(g.output))
        return [n.output for n in g.nodes if id(n.output) in keep]

    # ----- packed textures -----------------------------------------------------------------
    def texel_pos(self, ref: str, pos: str) -> str:
        """Where pixel ``pos`` of a texture reference (``name`` or ``name#group``) is stored."""
        if "#" not in ref:
            return pos
        name, group = ref.split("#")
        return packed_texel(pos, self.layouts[name], int(group))

    def logical_size(self, ref: str) -> str:
        """GLSL size in pixels of the value behind ``ref`` (a packed texture holds several texels each)."""
        name = texture_of(ref)
        size = f"textureSize({name}_raw, 0)"
        gx, gy = self.layouts.get(name, (1, 1))
        return size if (gx, gy) == (1, 1) else f"({size} / ivec2({gx}, {gy}))"

    # ----- passes --------------------------------------------------------------------------
    def tex_name(self, index: int, group: int) -> str:
        return f"kz{index}_{group}"

    def add_pass(self, pb: PassWriter, desc: str, out: list[str], save: str | None,
                 fill: str = "0.0", grid: tuple[int, int] = (1, 1)) -> bool:
        """Render ``pb`` as a pass; False (nothing added) if it needs too many textures."""
        body = pb.finish(out, fill, grid)
        if len(pb.binds) > MAX_BINDS:
            return False
        self.passes.append(Pass(desc, list(pb.binds), body, save, pb.scale,
                                 4 if save is not None else None, pb.block, grid))
        return True

    def emit_pass(self, v: Value, channels: range, save: str | None, desc: str, *, fill: str = "0.0",
                  grid: tuple[int, int] = (1, 1)) -> None:
        """One pass computing ``channels`` of ``v`` (all of them into a packed texture when ``grid`` is not
        1 x 1); convolutions it would inline are moved to partial-sum passes if it needs too many textures."""
        for attempt in range(2):
            start, spilled = len(self.passes), dict(self.plan.spilled)
            pb = PassWriter(self, v, v.scale, all_groups=grid != (1, 1))
            outs = [pb.channel(v, c, "P", v.scale) for c in channels]
            if self.add_pass(pb, desc, outs, save, fill, grid):
                return
            del self.passes[start:]
            self.plan.spilled = spilled
            if attempt == 1 or not pb.inlined:
                raise CompileError(f"value {v.name!r} needs more than {MAX_BINDS} textures in one pass")
            self.plan.spill.update(id(c) for c in pb.inlined)

    def emit_value(self, v: Value, index: int | None) -> None:
        """Passes computing ``v``: stored as ``kz<index>`` (packed) or ``kz<index>_<g>`` (one texture per 4
        channels), or the final output if ``index`` is None."""
        title = f"kizunasr {self.graph.name}: {v.name}"
        if index is None:
            self.emit_pass(v, range(min(4, v.channels)), None, title, fill="1.0")
            return
        groups = groups_of(v.channels)
        if self.pack and groups > 1:
            name = f"kz{index}"
            self.layouts[name] = grid_of(groups)
            try:
                self.emit_pass(v, range(v.channels), name, f"{title} [{groups} x 4 channels]", grid=grid_of(groups))
            except CompileError:  # too many textures even with partial sums: one pass per 4 channels instead
                del self.layouts[name]
            else:
                self.plan.stored[id(v)] = [f"{name}#{g}" for g in range(groups)]
                return
        names = [self.tex_name(index, g) for g in range(groups)]
        for g in range(groups):
            self.emit_pass(v, range(4 * g, min(4 * g + 4, v.channels)), names[g], f"{title} [{g + 1}/{groups}]")
        self.plan.stored[id(v)] = names

    def spill_conv(self, conv: Conv, g: int) -> str:
        """Compute conv output group ``g`` in partial-sum passes; returns the result texture."""
        key = (id(conv), g)
        if key in self.plan.spilled:
            return self.plan.spilled[key]
        probe = PassWriter(self, None, conv.output.scale)
        texs = probe.tex_lanes(conv.inputs[0])
        chunks: list[list[TexLanes]] = []
        rest = list(texs)
        while rest:
            room = MAX_BINDS - (1 if chunks else 0)
            chunks.append(rest[:room])
            rest = rest[room:]
        prev: str | None = None
        base = f"kzc{len(self.plan.spilled)}_{g}"
        for i, chunk in enumerate(chunks):
            pb = PassWriter(self, None, conv.output.scale)
            init = pb.fetch(prev, "P", pb.scale) if prev else "vec4(0.0)"
            if i == len(chunks) - 1:
                init = f"{init} + {pb.bias(conv, g)}"
            acc = pb.conv_sum(conv, g, chunk, init)
            name = f"{base}_{i}"
            desc = f"kizunasr {self.graph.name}: {conv.name} partial sum {i + 1}/{len(chunks)} [{g + 1}]"
            if not self.add_pass(pb, desc, [f"{acc}.{c}" for c in LANES], name):
                raise CompileError(f"node {conv.name!r} (op Conv): partial sum needs too many textures")
            prev = name
        assert prev is not None
        self.plan.spilled[key] = prev
        return prev

    def render(self) -> str:
        """Emit all passes and return the shader file text."""
        fused = self._scattered_output()
        order = [v for v in self.order if v is not fused]
        for i, v in enumerate(order):
            self.emit_value(v, i)
        if fused is None or not self.emit_scattered_output(fused):
            if fused is not None:
                self.emit_value(fused, len(order))
            self.emit_value(self.graph.output, None)
        return "\n".join(self._render_pass(p) for p in self.passes)

    def _scattered_output(self) -> Value | None:
        """The input of a final depth-to-space, when the output pass can compute it at its own size and write each
        pixel's ``block x block`` output pixels itself (no stored texture, no extra pass at the output size)."""
        node = self.graph.output.producer
        if not self.compute or not isinstance(node, DepthToSpace):
            return None
        u = node.inputs[0]
        stored = {id(v) for v in self.order}
        return u if id(u) in stored and len(u.consumers) == 1 and u is not self.graph.input else None

    def emit_scattered_output(self, u: Value) -> bool:
        """The output pass at ``u``'s size: each thread computes ``u`` at its pixel and stores the depth-to-space
        block; False (nothing added) if the pass would need too many textures."""
        node = self.graph.output.producer
        assert isinstance(node, DepthToSpace)
        b, channels = node.block, self.graph.output.channels
        pb = PassWriter(self, u, u.scale, all_groups=True)
        vals: list[str] = []
        for dy in range(b):
            for dx in range(b):
                texel = [pb.channel(u, node.src_channel(c, dy, dx), "P", u.scale) for c in range(channels)]
                vals += texel + ["1.0"] * (4 - channels)
        return self.add_pass(pb, f"kizunasr {self.graph.name}: output", vals, None, grid=(b, b))

    def _render_pass(self, p: Pass) -> str:
        head = [f"//!DESC {p.desc}", f"//!HOOK {self.hook}"]
        head += [f"//!BIND {b}" for b in p.binds]
        if p.save is not None:
            head.append(f"//!SAVE {p.save}")
        if p.components is not None:
            head.append(f"//!COMPONENTS {p.components}")
        gx, gy = p.grid
        if p.scale != 1 or p.grid != (1, 1):
            head += [f"//!WIDTH HOOKED.w {p.scale * gx} *", f"//!HEIGHT HOOKED.h {p.scale * gy} *"]
        if p.block is not None:
            bw, bh = p.block
            threads = "" if p.grid == (1, 1) else f" {bw} {bh}"  # each thread stores its pixel's gx x gy texels
            head.append(f"//!COMPUTE {bw * gx} {bh * gy}{threads}")
        return "\n".join(head) + "\n" + p.body + "\n"

