// KizunaSR kizuna_edge2x -- edge-directed 2x upscaler for anime line art.
//
// What: doubles the luma plane (YUV / grey sources: hook LUMA) or the packed RGB plane (RGB
//   sources: hook RGB; only one of the two passes runs for a given source). Per output pixel:
//   1. a structure tensor over the 9 cells of the 4x4 source neighbourhood gives the local edge
//      orientation and its coherence (0 = no dominant direction, 1 = a clean straight edge);
//   2. "iso": a separable Keys cubic over the 4x4 block (what bicubic would give);
//   3. "dir": a sheared cubic: on each of the 4 source lines (rows for steep edges, columns for
//      flat ones) a 1-D cubic is evaluated where the edge line through this pixel crosses that
//      line, then a cubic along the edge combines them; a diagonal edge is therefore interpolated
//      along itself instead of across the pixel grid (no stair-steps);
//   4. result = mix(iso, dir, coherence^2), clamped to the range of the 2x2 nearest source
//      pixels (no halo / ringing, never outside [0, 1] for in-range input).
//   Output pixel centres follow mpv/libplacebo's 2x convention (no OFFSET, no extra resample).
// Sources: anime / cartoon / line art, SD to 1080p; also safe on live action (gain is smaller).
// Cost: 1 pass at the 2x size, 32 texture taps per output pixel (16 block + 16 sheared),
//   ~300 ALU ops; no intermediate textures.
// Knobs (PARAM blocks at the end of this file; the #ifndef defaults below are what mpv 0.35's
//   vo=gpu uses, see glsl/README.md):
//   edge2x_directional  0..1 (1.0)  how strongly a coherent edge steers the interpolation
//   edge2x_sharpness    0..1 (1.0)  cubic C: 0 = soft, 0.5 = Catmull-Rom, 1 = sharpest
//   edge2x_antiring     0..1 (1.0)  clamp to the 2x2 source neighbourhood (0 = off)
// Chain: kizuna_edge2x -> kizuna_antiring (optional) -> kizuna_cas.
// Written for KizunaSR (MIT); not derived from any other shader.

//!HOOK LUMA
//!BIND HOOKED
//!DESC kizuna edge2x (luma)
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *

#ifndef edge2x_directional
#define edge2x_directional 1.0
#endif
#ifndef edge2x_sharpness
#define edge2x_sharpness 1.0
#endif
#ifndef edge2x_antiring
#define edge2x_antiring 1.0
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

    // Isotropic path: separable cubic over the 4x4 block.
    vec4 wx = vec4(kz_cubic(1.0 + fr.x, cpar), kz_cubic(fr.x, cpar),
                   kz_cubic(1.0 - fr.x, cpar), kz_cubic(2.0 - fr.x, cpar));
    vec4 wy = vec4(kz_cubic(1.0 + fr.y, cpar), kz_cubic(fr.y, cpar),
                   kz_cubic(1.0 - fr.y, cpar), kz_cubic(2.0 - fr.y, cpar));
    vec4 iso = vec4(0.0);
    for (int j = 0; j < 4; j++) {
        vec4 row = wx.x * px[j * 4] + wx.y * px[j * 4 + 1] + wx.z * px[j * 4 + 2] + wx.w * px[j * 4 + 3];
        iso += wy[j] * row;
    }
    iso /= dot(wx, vec4(1.0)) * dot(wy, vec4(1.0));

    // Directional path: sheared cubic. Step along the axis closest to the edge (eb); on each of
    // the 4 source lines, interpolate across (axis ea) at the point where the edge line through
    // this pixel crosses it, then combine the 4 line values with a cubic along eb.
    bool steep = abs(t.y) >= abs(t.x);
    vec2 ea = steep ? vec2(1.0, 0.0) : vec2(0.0, 1.0);
    vec2 eb = steep ? vec2(0.0, 1.0) : vec2(1.0, 0.0);
    float fa = dot(fr, ea), fb = dot(fr, eb);
    float slope = dot(t, ea) / dot(t, eb);  // |slope| <= 1
    vec4 dir = vec4(0.0);
    float lsum = 0.0;
    for (int j = -1; j <= 2; j++) {
        float xj = fa + (float(j) - fb) * slope;
        float xi = floor(xj);
        float fx = xj - xi;
        vec4 acc = vec4(0.0);
        float wsum = 0.0;
        for (int m = -1; m <= 2; m++) {
            float w = kz_cubic(fx - float(m), cpar);
            acc += w * HOOKED_tex(base + (ea * (xi + float(m)) + eb * float(j)) * HOOKED_pt);
            wsum += w;
        }
        float lw = kz_cubic(float(j) - fb, 0.5);
        dir += lw * acc / wsum;
        lsum += lw;
    }
    dir /= lsum;
    vec4 res = mix(iso, dir, coh);

    // Anti-ringing: clamp to the 2x2 nearest source pixels.
    vec4 a = px[5], b = px[6], c = px[9], d = px[10];
    vec4 lo = min(min(a, b), min(c, d));
    vec4 hi = max(max(a, b), max(c, d));
    res = mix(res, clamp(res, lo, hi), clamp(edge2x_antiring, 0.0, 1.0));
    return res;
}

//!HOOK RGB
//!BIND HOOKED
//!DESC kizuna edge2x (rgb)
//!WIDTH HOOKED.w 2 *
//!HEIGHT HOOKED.h 2 *

#ifndef edge2x_directional
#define edge2x_directional 1.0
#endif
#ifndef edge2x_sharpness
#define edge2x_sharpness 1.0
#endif
#ifndef edge2x_antiring
#define edge2x_antiring 1.0
#endif

#define KZ_KEY(c) dot((c).rgb, vec3(0.2126, 0.7152, 0.0722))

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

    // Isotropic path: separable cubic over the 4x4 block.
    vec4 wx = vec4(kz_cubic(1.0 + fr.x, cpar), kz_cubic(fr.x, cpar),
                   kz_cubic(1.0 - fr.x, cpar), kz_cubic(2.0 - fr.x, cpar));
    vec4 wy = vec4(kz_cubic(1.0 + fr.y, cpar), kz_cubic(fr.y, cpar),
                   kz_cubic(1.0 - fr.y, cpar), kz_cubic(2.0 - fr.y, cpar));
    vec4 iso = vec4(0.0);
    for (int j = 0; j < 4; j++) {
        vec4 row = wx.x * px[j * 4] + wx.y * px[j * 4 + 1] + wx.z * px[j * 4 + 2] + wx.w * px[j * 4 + 3];
        iso += wy[j] * row;
    }
    iso /= dot(wx, vec4(1.0)) * dot(wy, vec4(1.0));

    // Directional path: sheared cubic. Step along the axis closest to the edge (eb); on each of
    // the 4 source lines, interpolate across (axis ea) at the point where the edge line through
    // this pixel crosses it, then combine the 4 line values with a cubic along eb.
    bool steep = abs(t.y) >= abs(t.x);
    vec2 ea = steep ? vec2(1.0, 0.0) : vec2(0.0, 1.0);
    vec2 eb = steep ? vec2(0.0, 1.0) : vec2(1.0, 0.0);
    float fa = dot(fr, ea), fb = dot(fr, eb);
    float slope = dot(t, ea) / dot(t, eb);  // |slope| <= 1
    vec4 dir = vec4(0.0);
    float lsum = 0.0;
    for (int j = -1; j <= 2; j++) {
        float xj = fa + (float(j) - fb) * slope;
        float xi = floor(xj);
        float fx = xj - xi;
        vec4 acc = vec4(0.0);
        float wsum = 0.0;
        for (int m = -1; m <= 2; m++) {
            float w = kz_cubic(fx - float(m), cpar);
            acc += w * HOOKED_tex(base + (ea * (xi + float(m)) + eb * float(j)) * HOOKED_pt);
            wsum += w;
        }
        float lw = kz_cubic(float(j) - fb, 0.5);
        dir += lw * acc / wsum;
        lsum += lw;
    }
    dir /= lsum;
    vec4 res = mix(iso, dir, coh);

    // Anti-ringing: clamp to the 2x2 nearest source pixels.
    vec4 a = px[5], b = px[6], c = px[9], d = px[10];
    vec4 lo = min(min(a, b), min(c, d));
    vec4 hi = max(max(a, b), max(c, d));
    res = mix(res, clamp(res, lo, hi), clamp(edge2x_antiring, 0.0, 1.0));
    return res;
}

//!PARAM edge2x_directional
//!DESC How strongly a coherent edge steers the interpolation (0 = plain cubic)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
1.0

//!PARAM edge2x_sharpness
//!DESC Cubic sharpness C (0 = soft, 0.5 = Catmull-Rom, 1 = sharpest)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
1.0

//!PARAM edge2x_antiring
//!DESC Clamp to the 2x2 nearest source pixels (0 = off, 1 = full)
//!TYPE float
//!MINIMUM 0.0
//!MAXIMUM 1.0
1.0
