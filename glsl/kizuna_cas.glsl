// KizunaSR kizuna_cas -- contrast-adaptive sharpening (KizunaSR formulation).
//
// What: a luminance unsharp mask whose gain falls as local contrast rises, then limited to the
//   local range, so soft detail gains crispness while already-hard anime lines get no halo.
//   Per pixel, over the 3x3 neighbourhood (luminance key, BT.709 weights):
//     detail = centre - (1 2 1)x(1 2 1)/16 blur
//     range  = max - min
//     gain   = 2.5 * cas_strength * clamp(1 - range / cas_contrast, 0, 1)
//     l'     = clamp(centre + gain * detail, min, max)
//   The luminance change l' - l is added to every RGB channel (no colour fringes); the result is
//   clamped to [0, 1]. Flat areas (detail = 0) are unchanged.
// Sources: any; typically after an upscale (kizuna_edge2x, a kernel or a CNN) or on soft 720p.
// Cost: 1 pass at the hooked size, 10 taps per pixel (3x3 + centre colour), ~40 ALU ops.
// Knobs (PARAM blocks at the end; #ifndef defaults for mpv 0.35, see glsl/README.md):
//   cas_strength  0..1 (0.5)      overall gain
//   cas_contrast  0.05..1 (0.5)   local range at which sharpening fades to zero
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK MAIN
//!BIND HOOKED
//!DESC kizuna cas

#ifndef cas_strength
#define cas_strength 0.5
#endif
#ifndef cas_contrast
#define cas_contrast 0.5
#endif

vec4 hook() {
    const vec3 kw = vec3(0.2126, 0.7152, 0.0722);
    vec4 c = HOOKED_tex(HOOKED_pos);
    float l[9];
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 3; i++)
            l[j * 3 + i] = dot(HOOKED_texOff(vec2(float(i - 1), float(j - 1))).rgb, kw);
    float mn = l[0], mx = l[0];
    for (int k = 1; k < 9; k++) {
        mn = min(mn, l[k]);
        mx = max(mx, l[k]);
    }
    float blur = (4.0 * l[4] + 2.0 * (l[1] + l[3] + l[5] + l[7]) + (l[0] + l[2] + l[6] + l[8])) / 16.0;
    float detail = l[4] - blur;
    float gain = 2.5 * cas_strength * clamp(1.0 - (mx - mn) / max(cas_contrast, 1e-3), 0.0, 1.0);
    float target = clamp(l[4] + gain * detail, mn, mx);
    c.rgb = clamp(c.rgb + vec3(target - l[4]), 0.0, 1.0);
    return c;
}

//!PARAM cas_strength
//!DESC Sharpening gain (0 = off)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
0.5

//!PARAM cas_contrast
//!DESC Local contrast (max - min) at which sharpening fades to zero
//!TYPE float
//!MINIMUM 0.05
//!MAXIMUM 1.0
0.5
