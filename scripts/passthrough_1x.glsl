//!HOOK MAIN
//!BIND HOOKED
//!DESC pass-through 1x
vec4 hook() { return HOOKED_tex(HOOKED_pos); }
