// KizunaSR kizuna_edge2x -- edge-directed 2x upscaler for anime line art.
//
// What: doubles the luma plane (YUV / grey sources, hook LUMA) or the packed RGB plane (RGB
//   sources, hook RGB) with a steered kernel: a local structure tensor (9 cell gradients of the
//   4x4 source neighbourhood) gives the edge orientation and its coherence; each of the 16 source
//   taps is weighted by a sharp cubic across the edge times a Gaussian along it, blended with a
//   plain separable cubic where there is no dominant orientation (flat areas, texture, corners).
//   Diagonal lines therefore come out as smooth lines instead of bilinear/bicubic stair-steps.
//   The result is clamped to the range of the 2x2 nearest source pixels (no halo / ringing).
//   Output pixel centres follow mpv/libplacebo's 2x convention (no offset, no extra resample).
// Sources: anime / cartoon / line art at SD-720p; fine on live action but the gain is smaller.
// Cost: 1 pass per plane at the 2x size, 16 texture taps per output pixel, ~200 ALU ops.
// Knobs (PARAM blocks at the end of this file; #define defaults for mpv 0.35, see glsl/README.md):
//   edge2x_directional  0..1 (1.0)   how strongly coherent edges steer the kernel
//   edge2x_along        0.5..3 (1.4) Gaussian width along the edge, in source pixels
//   edge2x_antiring     0..1 (1.0)   clamp to the 2x2 source neighbourhood (1 = full clamp)
//   edge2x_sharpness    0..1 (0.5)   cubic "C": 0 = soft B-spline-like, 0.5 = Catmull-Rom, 1 = sharper
// Chain: kizuna_edge2x -> kizuna_antiring (optional, the post-2x pass) -> kizuna_cas.
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK LUMA
//!BIND HOOKED
//!DESC kizuna edge2x (luma)
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *

#ifndef edge2x_directional
#define edge2x_directional 1.0
#endif
#ifndef edge2x_along
#define edge2x_along 1.4
#endif
#ifndef edge2x_antiring
#define edge2x_antiring 1.0
#endif
#ifndef edge2x_sharpness
#define edge2x_sharpness 0.5
#endif

#define KZ_KEY(c) (c).x

// Keys cubic with free parameter C (B = 0); |x| in source pixels, support 2.
float kz_cubic(float x, float c) {
    x = abs(x);
    if (x < 1.0)
        return ((2.0 - c) * x - (3.0 - c)) * x * x + 1.0;
    if (x < 2.0)
        return (((-c * x) + 5.0 * c) * x - 8.0 * c) * x + 4.0 * c;
    return 0.0;
}

vec4 hook() {
    vec2 f = HOOKED_pos * HOOKED_size - vec2(0.5);
    vec2 i0 = floor(f);
    vec2 fr = f - i0;                       // 0.25 or 0.75 for an exact 2x
    vec2 base = (i0 + vec2(0.5)) * HOOKED_pt;

    vec4 px[16];
    float k[16];
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 4; i++) {
            vec4 c = HOOKED_tex(base + vec2(float(i - 1), float(j - 1)) * HOOKED_pt);
            px[j * 4 + i] = c;
            k[j * 4 + i] = KZ_KEY(c);
        }
    }

    // Structure tensor from the 3x3 cells of the 4x4 block, Gaussian-weighted around f.
    float sxx = 0.0, sxy = 0.0, syy = 0.0;
    for (int j = 0; j < 3; j++) {
        for (int i = 0; i < 3; i++) {
            float a = k[j * 4 + i], b = k[j * 4 + i + 1];
            float c = k[(j + 1) * 4 + i], d = k[(j + 1) * 4 + i + 1];
            float gx = 0.5 * ((b - a) + (d - c));
            float gy = 0.5 * ((c - a) + (d - b));
            vec2 cc = vec2(float(i) - 0.5, float(j) - 0.5) - fr;   // cell centre - f
            float w = exp(-0.8 * dot(cc, cc));
            sxx += w * gx * gx;
            sxy += w * gx * gy;
            syy += w * gy * gy;
        }
    }
    float tr = sxx + syy;
    float dd = sqrt(0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy);
    float l1 = 0.5 * tr + dd, l2 = 0.5 * tr - dd;
    float coh = (l1 - l2) / (l1 + l2 + 1e-6);
    // ignore orientation in near-flat areas (8-bit noise level ~ 1/255 gradients)
    coh *= smoothstep(2e-5, 2e-4, tr);
    coh = coh * coh * clamp(edge2x_directional, 0.0, 1.0);
    float theta = 0.5 * atan(2.0 * sxy, sxx - syy + 1e-9);
    vec2 n = vec2(cos(theta), sin(theta));  // gradient (across-edge) direction
    vec2 t = vec2(-n.y, n.x);               // isophote (along-edge) direction

    float cpar = edge2x_sharpness;
    float inv2s2 = 0.5 / (edge2x_along * edge2x_along);
    vec4 acc = vec4(0.0);
    float wsum = 0.0;
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 4; i++) {
            vec2 d = vec2(float(i - 1), float(j - 1)) - fr;
            float w_iso = kz_cubic(d.x, cpar) * kz_cubic(d.y, cpar);
            float u = dot(d, n), v = dot(d, t);
            float w_dir = kz_cubic(u, cpar) * exp(-v * v * inv2s2);
            float w = mix(w_iso, w_dir, coh);
            acc += w * px[j * 4 + i];
            wsum += w;
        }
    }
    vec4 res = acc / max(wsum, 1e-3);

    // Anti-ringing: clamp to the 2x2 nearest source pixels.
    vec4 a = px[5], b = px[6], c = px[9], d = px[10];
    vec4 lo = min(min(a, b), min(c, d));
    vec4 hi = max(max(a, b), max(c, d));
    res = mix(res, clamp(res, lo, hi), clamp(edge2x_antiring, 0.0, 1.0));
    return res;
}
