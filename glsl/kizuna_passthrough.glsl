// KizunaSR kizuna_passthrough -- identity MAIN hook.
//
// What: returns its input unchanged. Used as the benchmark baseline (the cost of one extra hook
//   pass: a texture read and write at the hooked size) and as a smoke test of the shader path.
// Sources: any.
// Cost: 1 pass, 1 tap per pixel. Knobs: none.
// Written for KizunaSR (MIT).

//!HOOK MAIN
//!BIND HOOKED
//!DESC kizuna passthrough

vec4 hook() {
    return HOOKED_tex(HOOKED_pos);
}
