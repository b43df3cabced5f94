"""Multiply-adds per source pixel counted from a shader's passes (render.macs), against references computed
here by hand: small shaders of known cost, the peers' network shapes, and our ONNX graphs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from kizunasr_vs.render import macs
from tests.conftest import REPO, shared_peer

FRAGMENT_2X = """//!PARAM rounds
//!TYPE int
//!MINIMUM 0
3
//!HOOK LUMA
//!BIND HOOKED
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *
//!DESC fragment 2x
vec4 hook() {
    vec4 r = mat4(1.0) * HOOKED_texOff(vec2(-1, 0));            // 16
    r += vec4(0.5, 0.25, 0.125, 1.0) * HOOKED_tex(HOOKED_pos).x;  // 4
    r.x += dot(r, HOOKED_texOff(vec2(1, 0)));                     // 4
    r.y = fma(r.z, r.w, r.x);                                     // 1
    ivec2 p = ivec2(gl_FragCoord.xy) * ivec2(3);                  // integer: 0
    r.z += float(p.x) / 3.0 + r.w;                                // division and addition: 0
    int n = 2;
    for (int i = 0; i < n; i++)                                   // 2 trips
        r += vec4(0.5) * r;                                       // 4
    for (int i = 0; i < rounds; i++)                              // 3 trips, at the parameter's default
        r.x *= r.y;                                               // 1
    return r;
}
"""

# A compute pass in CuNNy's style (fp16 macros, shared-memory loads in loops that may break early, a helper
# function), a pass whose WHEN is false, and a pass with a loop bound known only at run time.
COMPUTE = """//!PARAM taps
//!TYPE DEFINE
3
//!HOOK LUMA
//!BIND HOOKED
//!SAVE tmp
//!WIDTH HOOKED.w 2 *
//!COMPONENTS 4
//!COMPUTE 32 8 8 8
//!DESC compute
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : enable
#ifdef GL_EXT_shader_explicit_arithmetic_types_float16
#define V4 f16vec4
#define M4 f16mat4
#else
#define V4 vec4
#define M4 mat4
#endif
shared V4 G[10][10];
V4 scaled(V4 a, V4 b) { return a * b; }
void hook() {
    ivec2 xy = ivec2(gl_LocalInvocationID.xy);
    for (int y = 0; y < 10; y += 8) {            // 2 trips
        if (xy.y + y >= 10) break;
        for (int x = 0; x < 10; x += 8)          // 2 trips
            G[y][x] = V4(HOOKED_mul * texelFetch(HOOKED_raw, xy + ivec2(x, y), 0));  // 4
    }
    barrier();
    V4 r = V4(0.0);
    for (int i = 8; i > 0; i -= 2)               // 4 trips
        r += M4(1.0) * G[i][0];                  // 16
    for (int i = 0; i <= taps - 1; ++i)          // 3 trips
        r = scaled(r, G[0][i]);                  // 4
    imageStore(out_image, xy, vec4(r));
}
//!HOOK LUMA
//!BIND tmp
//!WHEN HOOKED.w 0 <
//!DESC never runs
vec4 hook() { return mat4(2.0) * tmp_tex(tmp_pos); }
//!HOOK LUMA
//!BIND tmp
//!WIDTH tmp.w 2 /
//!COMPUTE 8 8
//!DESC unknown trip count
void hook() {
    vec4 r = tmp_tex(tmp_pos);
    for (int i = 0; i < int(tmp_size.x); i++)
        r = vec4(2.0) * r;                       // 4, counted once
    imageStore(out_image, ivec2(gl_GlobalInvocationID.xy), r);
}
"""


def test_a_fragment_pass_counts_its_products_by_width_once_per_output_pixel() -> None:
    """Loops bounded by a local set once to a constant, or by a parameter, count their trips."""
    cost = macs.count_shader(FRAGMENT_2X, 64, 48)
    (p,) = cost.passes
    assert (p.kind, p.size, p.per_invocation, p.invocations) == ("fragment", (128, 96), 25 + 2 * 4 + 3, 4.0)
    assert cost.macs == 4 * 36 and not cost.lower_bound


def test_a_compute_pass_counts_loop_trips_calls_and_threads_per_block() -> None:
    width, height = 100, 50
    cost = macs.count_shader(COMPUTE, width, height)
    assert [p.desc for p in cost.passes] == ["compute", "unknown trip count"]
    first, second = cost.passes
    assert first.per_invocation == 2 * 2 * 4 + 4 * 16 + 3 * 4 and first.unknown_loops == 0
    # libplacebo dispatches ceil(w / block) x ceil(h / block) groups of 8 x 8 threads over the pass's 200 x 50
    assert first.invocations == math.ceil(200 / 32) * math.ceil(50 / 8) * 64 / (width * height)
    assert (second.per_invocation, second.unknown_loops, second.size) == (4, 1, (100, 50))
    assert cost.lower_bound and cost.label().startswith(">= ")
    assert cost.macs == pytest.approx(first.invocations * 92 + second.invocations * 4)


DP4A = """//!HOOK LUMA
//!BIND HOOKED
//!COMPUTE 8 8
//!DESC dp4a
#extension GL_EXT_integer_dot_product : require
void hook() {
    uint a = packUnorm4x8(HOOKED_tex(HOOKED_pos));
    int acc = int(dotPacked4x8EXT(a, a));                  // 4 (8-bit lanes of a 32-bit word)
    acc += dotEXT(ivec4(1, 2, 3, 4), ivec4(int(a)));       // 4
    imageStore(out_image, ivec2(gl_GlobalInvocationID.xy), vec4(float(acc)));
}
"""


def test_integer_dot_products_count_their_lanes() -> None:
    """The 8-bit dp4a form the field uses for cheap shaders: a packed dot product is 4 multiply-adds."""
    cost = macs.count_shader(DP4A, 64, 48)
    assert cost.macs == 8 and cost.kind == "compute"


def test_a_pass_that_does_not_compile_is_named() -> None:
    broken = FRAGMENT_2X.replace("return r;", "return r + undefined_thing;")
    with pytest.raises(macs.MacsError, match=r"pass 'fragment 2x': does not compile: .*undefined_thing"):
        macs.count_shader(broken)


def test_cunny_fast_counts_its_convolutions_and_its_shared_memory_loads() -> None:
    """CuNNy fast: 3x3 convolutions 1->12, 12->12, 12->8, 8->4, one invocation per source pixel in each pass.
    Each thread loads up to 2 x 2 texels per channel group into shared memory (loops from 0 to 10 in steps of
    8, exits by break not followed), each scaled by NAME_mul (4 multiplies): 1 + 3 + 3 + 2 groups. The output
    pass works out 6 vec2 positions (2 multiplies each)."""
    cost = macs.count_shader(str(shared_peer("cunny/CuNNy-fast.glsl")))
    convolutions = 9 * (1 * 12 + 12 * 12 + 12 * 8 + 8 * 4)
    loads = (1 + 3 + 3 + 2) * 2 * 2 * 4
    assert [p.invocations for p in cost.passes] == [1.0] * 4
    assert cost.macs == convolutions + loads + 6 * 2
    assert cost.kind == "compute"


def test_artcnn_c4f16_counts_its_convolutions() -> None:
    """ArtCNN C4F16: 3x3 convolutions 1->16, five 16->16 and 16->4 in fragment passes at the source size (each
    4 outputs), then a depth-to-space pass: fract(pos * size), f0 * 2 and (0.5 - f0) * pt, three vec2
    multiplies per output pixel, 4 output pixels per source pixel."""
    cost = macs.count_shader(str(shared_peer("artcnn/ArtCNN_C4F16.glsl")))
    assert cost.macs == 9 * (1 * 16 + 5 * 16 * 16 + 16 * 4) + 4 * 3 * 2
    assert cost.kind == "fragment" and len(cost.passes) == 26


# ---------------------------------------------------------------------------------------------
# Our learned shaders against their ONNX graphs


def _onnx_reference(path: Path) -> dict[str, int]:
    """From the graph alone: the convolutions' multiply-adds per source pixel, and what the compiled shader adds
    to them by construction. It reads channels in groups of 4 (a vec4 texel), so a concatenated part of c
    channels is read as ceil(c / 4) * 4 with zero weights for the rest; it scales every texel of the source by
    HOOKED_mul (4 multiplies a read: 9 per 3x3 convolution reading it, 1 per Add unless the Add's convolution
    reads the source as well, as a dense tail does); PReLU is one multiply per
    channel."""
    graph = onnx.load(str(path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    source = graph.input[0].name
    source_channels = graph.input[0].type.tensor_type.shape.dim[1].dim_value

    def parts(tensor: str) -> list[str]:
        """The tensors concatenated (through Pad) into ``tensor``."""
        node = producer.get(tensor)
        if node is not None and node.op_type == "Pad":
            return parts(node.input[0])
        if node is not None and node.op_type == "Concat":
            return [p for t in node.input for p in parts(t)]
        return [tensor]

    def channels(tensor: str) -> int:
        if tensor == source:
            return source_channels
        node = producer[tensor]
        if node.op_type == "Conv":
            return int(weights[node.input[1]].shape[0])
        if node.op_type == "Concat":
            return sum(channels(p) for p in parts(tensor))
        return channels(node.input[0])  # PRelu, Pad: as many channels as they take

    def feeds_on_source(add: onnx.NodeProto) -> bool:
        """Whether the convolution behind the Add's other input reads the source too: the output pass then
        shares its centre read with the Add (one scaled read, not two)."""
        for tensor in add.input:
            node = producer.get(tensor)
            while node is not None and node.op_type not in ("Conv", "Concat"):
                node = producer.get(node.input[0])
            if node is not None and node.op_type == "Conv" and source in parts(node.input[0]):
                return True
        return False

    out = {"convolutions": 0, "zero weights": 0, "prelu": 0, "source scaling": 0}
    for node in graph.node:
        if node.op_type == "Conv":
            w = weights[node.input[1]]
            assert all(s == 1 for a in node.attribute if a.name == "strides" for s in a.ints)
            cout, _, kh, kw = w.shape
            out["convolutions"] += int(np.prod(w.shape))
            sizes = [channels(p) for p in parts(node.input[0])]
            # a texture of one channel is read as a scalar (vec4 weights x one lane): no zero weights
            out["zero weights"] += cout * kh * kw * sum(math.ceil(c / 4) * 4 - c for c in sizes if c != 1)
            out["source scaling"] += 4 * kh * kw * sum(p == source for p in parts(node.input[0]))
        elif node.op_type == "PRelu":
            out["prelu"] += channels(node.input[0])
        elif node.op_type == "Add" and not feeds_on_source(node):
            out["source scaling"] += 4 * sum(source in parts(t) for t in node.input)
    return out


TIERS = sorted(p.stem for p in (REPO / "kizunasr_vs" / "train" / "weights").glob("*.onnx")
               if (REPO / "glsl" / f"{p.stem}.glsl").is_file())


@pytest.mark.parametrize("tier", TIERS)
def test_our_shaders_count_their_onnx_convolutions_plus_the_known_overhead(tier: str) -> None:
    reference = _onnx_reference(REPO / "kizunasr_vs" / "train" / "weights" / f"{tier}.onnx")
    cost = macs.count_shader(tier)
    assert cost.macs == sum(reference.values()), reference
    assert reference["zero weights"] == 0 and cost.macs < 1.1 * reference["convolutions"]  # no wasted lanes
    assert cost.kind == "compute" and not cost.lower_bound
