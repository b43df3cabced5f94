// KizunaSR kizuna_deband -- edge-preserving debanding for flat anime fills and gradients.
//
// What: for each of deband_iterations rings (radius deband_radius * i / iterations), 8 samples
//   on the ring, rotated by a per-pixel hash (no fixed pattern), are averaged with the centre.
//   Each sample's weight is 1 while it differs from the centre by at most half of
//   deband_threshold (in all components) and falls smoothly to 0 at deband_threshold, so only
//   the tiny steps of a banded gradient are averaged: line art, edges and any texture with
//   steps larger than the threshold keep their exact values. Optional luma/RGB grain
//   (deband_grain, default 0 = dither-free), different every frame.
//   Runs on the source planes before any upscaling: LUMA and RGB (pass 1, with grain) and
//   CHROMA (pass 2, no grain), at their native size.
// Sources: 8-bit anime encodes with banding in skies, gradients, dark scenes.
// Cost: 2 passes (luma/RGB and chroma) at the native plane size, 1 + 8 * iterations bilinear
//   taps per pixel (17 with the default 2 iterations).
// Knobs (PARAM blocks at the end; #ifndef defaults for mpv 0.35, see glsl/README.md):
//   deband_iterations  1..4 (2)          rings
//   deband_radius      1..32 (12.0)      outer ring radius in source pixels
//   deband_threshold   0.001..0.1 (0.012) largest step treated as banding (~3 of 255)
//   deband_grain       0..0.05 (0.0)     grain amplitude (peak-to-peak) on luma / RGB
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK LUMA
//!HOOK RGB
//!BIND HOOKED
//!DESC kizuna deband (luma / rgb)

#ifndef deband_iterations
#define deband_iterations 2
#endif
#ifndef deband_radius
#define deband_radius 12.0
#endif
#ifndef deband_threshold
#define deband_threshold 0.012
#endif
#ifndef deband_grain
#define deband_grain 0.0
#endif

uint kz_hash(uvec3 v) {
    uint h = v.x * 0x8da6b343u ^ v.y * 0xd8163841u ^ v.z * 0xcb1ab31fu;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    h *= 0x297a2d39u;
    h ^= h >> 15;
    return h;
}

float kz_rand(uvec3 v) {
    return float(kz_hash(v) >> 8) * (1.0 / 16777216.0);
}

vec4 kz_deband(out uvec2 ip) {
    vec4 c = HOOKED_tex(HOOKED_pos);
    ip = uvec2(HOOKED_pos * HOOKED_size);
    float thr = max(deband_threshold, 1e-5);
    vec4 acc = c;
    float wsum = 1.0;
    int iters = clamp(int(deband_iterations), 1, 4);
    for (int i = 1; i <= iters; i++) {
        float r = deband_radius * float(i) / float(iters);
        float a0 = 6.2831853 * kz_rand(uvec3(ip, uint(i)));
        for (int k = 0; k < 8; k++) {
            float a = a0 + 0.7853982 * float(k);
            vec4 s = HOOKED_tex(HOOKED_pos + r * vec2(cos(a), sin(a)) * HOOKED_pt);
            vec3 d = abs(s.xyz - c.xyz);
            float w = 1.0 - smoothstep(0.5 * thr, thr, max(max(d.x, d.y), d.z));
            acc += w * s;
            wsum += w;
        }
    }
    return acc / wsum;
}

vec4 hook() {
    uvec2 ip;
    vec4 res = kz_deband(ip);
    float g = (kz_rand(uvec3(ip, uint(frame) + 977u)) - 0.5) * deband_grain;
    res.xyz = clamp(res.xyz + vec3(g), 0.0, 1.0);
    return res;
}

//!HOOK CHROMA
//!BIND HOOKED
//!DESC kizuna deband (chroma)

#ifndef deband_iterations
#define deband_iterations 2
#endif
#ifndef deband_radius
#define deband_radius 12.0
#endif
#ifndef deband_threshold
#define deband_threshold 0.012
#endif

uint kz_hash(uvec3 v) {
    uint h = v.x * 0x8da6b343u ^ v.y * 0xd8163841u ^ v.z * 0xcb1ab31fu;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    h *= 0x297a2d39u;
    h ^= h >> 15;
    return h;
}

float kz_rand(uvec3 v) {
    return float(kz_hash(v) >> 8) * (1.0 / 16777216.0);
}

vec4 hook() {
    vec4 c = HOOKED_tex(HOOKED_pos);
    uvec2 ip = uvec2(HOOKED_pos * HOOKED_size);
    float thr = max(deband_threshold, 1e-5);
    vec4 acc = c;
    float wsum = 1.0;
    int iters = clamp(int(deband_iterations), 1, 4);
    // the chroma plane is usually half size: halve the radius to cover the same image area
    float scale = HOOKED_size.x / max(input_size.x, 1.0);
    for (int i = 1; i <= iters; i++) {
        float r = max(deband_radius * scale, 1.0) * float(i) / float(iters);
        float a0 = 6.2831853 * kz_rand(uvec3(ip, uint(i) + 31u));
        for (int k = 0; k < 8; k++) {
            float a = a0 + 0.7853982 * float(k);
            vec4 s = HOOKED_tex(HOOKED_pos + r * vec2(cos(a), sin(a)) * HOOKED_pt);
            vec2 d = abs(s.xy - c.xy);
            float w = 1.0 - smoothstep(0.5 * thr, thr, max(d.x, d.y));
            acc += w * s;
            wsum += w;
        }
    }
    return acc / wsum;
}

//!PARAM deband_iterations
//!DESC Number of sample rings
//!TYPE int
//!MINIMUM 1
//!MAXIMUM 4
2

//!PARAM deband_radius
//!DESC Outer ring radius in source (luma) pixels
//!TYPE float
//!MINIMUM 1.0
//!MAXIMUM 32.0
12.0

//!PARAM deband_threshold
//!DESC Largest step (0..1 signal) treated as banding
//!TYPE float
//!MINIMUM 0.001
//!MAXIMUM 0.1
0.012

//!PARAM deband_grain
//!DESC Grain amplitude (peak-to-peak) added to luma / RGB; 0 = none
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 0.05
0.0
