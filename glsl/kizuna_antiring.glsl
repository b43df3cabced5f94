// KizunaSR kizuna_antiring -- clamps the ringing / halos of the main scaler around lines.
//
// What: hooks POSTKERNEL (right after mpv's / libplacebo's main scaler: lanczos, spline,
//   ewa_lanczos, ...) and clamps each output pixel to the min/max of the 2x2 source pixels
//   (PREKERNEL, bound) around it, blended by antiring_strength. Runs only when the main scaler
//   upscales in both axes (downscaling needs a wider footprint and is left alone). It works in
//   whatever light the scaler works in (linear / sigmoid in libplacebo), so it composes with
//   linear-light scaling. For the overshoot of a 2x prescaler hook (a CNN on LUMA / MAIN) use
//   kizuna_antiring2x.glsl instead; kizuna_edge2x clamps itself.
// Sources: any upscaled content; most visible with sharp kernels on anime line art.
// Usage: mpv: --glsl-shader=kizuna_antiring.glsl --scale=ewa_lanczossharp (any scaler);
//   VapourSynth: kizunasr_vs.shader(clip, "glsl/kizuna_antiring.glsl", width=2*w, height=2*h)
//   (vs-placebo's own upscaler, ewa_lanczos by default, does the scaling).
// Cost: 1 pass at the output size, 5 taps per output pixel; no intermediate textures.
// Knobs (PARAM block at the end; #ifndef default for mpv 0.35, see glsl/README.md):
//   antiring_strength  0..1 (1.0)   0 = off, 1 = full clamp
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK POSTKERNEL
//!BIND HOOKED
//!BIND PREKERNEL
//!DESC kizuna antiring (after the main scaler)
//!WHEN HOOKED.w PREKERNEL.w > HOOKED.h PREKERNEL.h > *

#ifndef antiring_strength
#define antiring_strength 1.0
#endif

vec4 hook() {
    vec4 c = HOOKED_tex(HOOKED_pos);
    vec2 f = PREKERNEL_pos * PREKERNEL_size - vec2(0.5);
    vec2 base = (floor(f) + vec2(0.5)) * PREKERNEL_pt;
    vec4 a = PREKERNEL_tex(base);
    vec4 b = PREKERNEL_tex(base + vec2(PREKERNEL_pt.x, 0.0));
    vec4 d = PREKERNEL_tex(base + vec2(0.0, PREKERNEL_pt.y));
    vec4 e = PREKERNEL_tex(base + PREKERNEL_pt);
    vec4 lo = min(min(a, b), min(d, e));
    vec4 hi = max(max(a, b), max(d, e));
    return mix(c, clamp(c, lo, hi), clamp(antiring_strength, 0.0, 1.0));
}

//!PARAM antiring_strength
//!DESC Blend of the clamped value (0 = off, 1 = full clamp)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
1.0
