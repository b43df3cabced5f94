// KizunaSR kizuna_linedarken -- darkens the dark line art of anime without touching fills.
//
// What: per pixel, the "valley depth" V is how much darker the pixel is than both sides of it, in
//   the most line-like of 4 directions (horizontal, vertical, 2 diagonals), looking 2 pixels out
//   on each side: V = max over directions of min(max(a1, a2), max(b1, b2)) - centre (luminance,
//   BT.709 weights; a1/a2 and b1/b2 are the pixels at distance 1 and 2 on either side).
//   Lines up to 3 pixels wide have V > 0; flat areas, the bright side of an edge and plain step
//   edges have V = 0 and are left exactly as they are. Then
//     l' = max(l - linedarken_strength * V * smoothstep(t, 2t, V), l * (1 - linedarken_strength))
//   with t = linedarken_threshold (ignores grain and soft shading), and RGB is scaled by l' / l
//   (hue kept, never brighter, never below 0).
// Sources: anime / cartoon line art with lines 1-3 px wide at the hooked resolution (in mpv MAIN
//   comes after kizuna_edge2x, where the 1-1.5 px lines of SD anime are 2-3 px wide).
// Cost: 1 pass at the hooked size, 17 taps per pixel.
// Knobs (PARAM blocks at the end; #ifndef defaults for mpv 0.35, see glsl/README.md):
//   linedarken_strength   0..1 (0.5)     how much of the valley depth is subtracted
//   linedarken_threshold  0..0.2 (0.03)  valley depth below which nothing happens
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK MAIN
//!BIND HOOKED
//!DESC kizuna linedarken

#ifndef linedarken_strength
#define linedarken_strength 0.5
#endif
#ifndef linedarken_threshold
#define linedarken_threshold 0.03
#endif

#define KZ_L(off) dot(HOOKED_texOff(off).rgb, vec3(0.2126, 0.7152, 0.0722))

float kz_side(vec2 d, float c) {
    float a = max(KZ_L(d), KZ_L(2.0 * d));
    float b = max(KZ_L(-d), KZ_L(-2.0 * d));
    return min(a, b) - c;
}

vec4 hook() {
    vec4 col = HOOKED_tex(HOOKED_pos);
    float l = dot(col.rgb, vec3(0.2126, 0.7152, 0.0722));
    float v = max(max(kz_side(vec2(1.0, 0.0), l), kz_side(vec2(0.0, 1.0), l)),
                  max(kz_side(vec2(1.0, 1.0), l), kz_side(vec2(1.0, -1.0), l)));
    v = max(v, 0.0);
    float s = clamp(linedarken_strength, 0.0, 1.0);
    float t = max(linedarken_threshold, 1e-4);
    float target = max(l - s * v * smoothstep(t, 2.0 * t, v), l * (1.0 - s));
    float k = l > 1e-5 ? clamp(target / l, 0.0, 1.0) : 1.0;
    col.rgb = clamp(col.rgb * k, 0.0, 1.0);
    return col;
}

//!PARAM linedarken_strength
//!DESC Fraction of the valley depth subtracted from line pixels
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
0.5

//!PARAM linedarken_threshold
//!DESC Valley depth (0..1 luminance) below which pixels are left alone
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 0.2
0.03
