// KizunaSR kizuna_antiring2x -- clamps the overshoot of a 2x prescaler (CNN or kernel hook).
//
// What: hooks MAIN and assumes MAIN is a 2x upscale of the source (load it right after a 2x
//   LUMA / MAIN hook such as a CNN upscaler, or in VapourSynth run it on the 2x clip). The source
//   is estimated as the 2x2 block means of the doubled image (one bilinear tap at each block
//   centre gives the mean), and each pixel is clamped to the min/max of the 2x2 nearest block
//   means, widened by antiring2x_margin of that range (block means are slightly smoothed, the
//   margin keeps legitimate line contrast), blended by antiring2x_strength. Do not use it on an
//   image that was not upscaled 2x: it would flatten 1-pixel detail.
// Sources: the output of 2x upscalers with ringing (CNNs trained with sharp targets, lanczos-like
//   hooks) on anime line art.
// Cost: 1 pass at the 2x size, 5 taps per pixel; no intermediate textures.
// Knobs (PARAM blocks at the end; #ifndef defaults for mpv 0.35, see glsl/README.md):
//   antiring2x_strength  0..1 (1.0)    0 = off, 1 = full clamp
//   antiring2x_margin    0..0.5 (0.1)  allowed overshoot as a fraction of the local range
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK MAIN
//!BIND HOOKED
//!DESC kizuna antiring2x

#ifndef antiring2x_strength
#define antiring2x_strength 1.0
#endif
#ifndef antiring2x_margin
#define antiring2x_margin 0.1
#endif

vec4 hook() {
    vec4 c = HOOKED_tex(HOOKED_pos);
    // source grid = 2x2 blocks of this texture; a bilinear tap at a block centre is its mean
    vec2 src_size = HOOKED_size * 0.5;
    vec2 f = HOOKED_pos * src_size - vec2(0.5);
    vec2 base = (floor(f) + vec2(0.5)) / src_size;
    vec2 stp = 1.0 / src_size;
    vec4 a = HOOKED_tex(base);
    vec4 b = HOOKED_tex(base + vec2(stp.x, 0.0));
    vec4 d = HOOKED_tex(base + vec2(0.0, stp.y));
    vec4 e = HOOKED_tex(base + stp);
    vec4 lo = min(min(a, b), min(d, e));
    vec4 hi = max(max(a, b), max(d, e));
    vec4 m = (hi - lo) * antiring2x_margin;
    return mix(c, clamp(c, lo - m, hi + m), clamp(antiring2x_strength, 0.0, 1.0));
}

//!PARAM antiring2x_strength
//!DESC Blend of the clamped value (0 = off, 1 = full clamp)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
1.0

//!PARAM antiring2x_margin
//!DESC Allowed overshoot as a fraction of the local range
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 0.5
0.1
