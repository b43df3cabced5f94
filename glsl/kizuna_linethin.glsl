// KizunaSR kizuna_linethin -- thins dark line art by brightening the soft flanks of lines.
//
// What: per pixel, over the 3x3 neighbourhood (luminance, BT.709 weights), t = (l - min) /
//   (max - min) is the pixel's position between the darkest and brightest neighbour. Flank pixels
//   (0 < t < 1) are pushed towards the bright side with the curve
//     t' = 1 - (1 - t)^(1 + 3 * linethin_strength)
//   so the line core (t = 0) and the fill (t = 1) keep their values exactly, while the dark part
//   of each anti-aliased transition shrinks: lines get thinner but never disappear. Applied only
//   where max - min exceeds linethin_threshold (flat areas, grain and soft shading are left
//   alone); never darkens. The luminance change is added to all RGB channels, clamped to [0, 1].
//   Note: it thins dark features and equally widens bright ones (highlights, white text);
//   plain edges between two fills move by a fraction of a pixel towards the dark side.
// Sources: anime / cartoon line art with thick or blurry lines (upscaled SD, soft encodes); best
//   after the 2x upscale.
// Cost: 1 pass at the hooked size, 10 taps per pixel (3x3 + centre colour).
// Knobs (PARAM blocks at the end; #ifndef defaults for mpv 0.35, see glsl/README.md):
//   linethin_strength   0..1 (0.5)     curve exponent 1 + 3 * strength (0 = off)
//   linethin_threshold  0..0.5 (0.1)   minimum local contrast for thinning
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK MAIN
//!BIND HOOKED
//!DESC kizuna linethin

#ifndef linethin_strength
#define linethin_strength 0.5
#endif
#ifndef linethin_threshold
#define linethin_threshold 0.1
#endif

vec4 hook() {
    const vec3 kw = vec3(0.2126, 0.7152, 0.0722);
    vec4 c = HOOKED_tex(HOOKED_pos);
    float l = dot(c.rgb, kw);
    float mn = l, mx = l;
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            float v = dot(HOOKED_texOff(vec2(float(i), float(j))).rgb, kw);
            mn = min(mn, v);
            mx = max(mx, v);
        }
    }
    float range = mx - mn;
    float gate = smoothstep(linethin_threshold, 1.5 * linethin_threshold + 1e-4, range);
    float t = clamp((l - mn) / max(range, 1e-5), 0.0, 1.0);
    float t2 = 1.0 - pow(1.0 - t, 1.0 + 3.0 * clamp(linethin_strength, 0.0, 1.0));
    float target = mix(l, mn + range * t2, gate);
    c.rgb = clamp(c.rgb + vec3(max(target - l, 0.0)), 0.0, 1.0);
    return c;
}

//!PARAM linethin_strength
//!DESC Thinning strength (0 = off)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
0.5

//!PARAM linethin_threshold
//!DESC Minimum local contrast (max - min luminance) for thinning
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 0.5
0.1
