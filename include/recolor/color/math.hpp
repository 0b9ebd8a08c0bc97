// The elementary functions behind the colour formulas, as two interchangeable policies.
// PreciseMath<T> calls the C++ library and is what the public srgb_to_lab and ciede2000 use.
// FastMath is float only and is what the per-pixel ΔE00 map uses on both backends: on the CPU
// every function is branch-free polynomial arithmetic, so that a loop calling it vectorises
// (the library's sqrtf, cbrtf, atan2f are calls that stop the vectoriser, and sqrtf sets errno);
// under nvcc the same functions use the hardware's approximate units. Each is accurate to a few
// float ulp over the range the colour formulas give it; tests/color_math_test.cpp checks them.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "recolor/core/host_device.hpp"

// Host functions that a vectorised loop calls must be inlined into it, whatever the heuristics say.
#if defined(__CUDACC__) || !defined(__GNUC__)
#define RECOLOR_COLOR_INLINE RECOLOR_HOST_DEVICE
#else
#define RECOLOR_COLOR_INLINE RECOLOR_HOST_DEVICE __attribute__((always_inline))
#endif

namespace recolor::color {

inline constexpr double pi = 3.14159265358979323846;

// C++ library functions, in the precision of T.
template <class T>
struct PreciseMath {
    static RECOLOR_COLOR_INLINE T select(bool c, T a, T b) { return c ? a : b; }
    static RECOLOR_COLOR_INLINE T div(T a, T b) { return a / b; }
    static RECOLOR_COLOR_INLINE T sqrt(T x) { return std::sqrt(x); }
    static RECOLOR_COLOR_INLINE T cbrt(T x) { return std::cbrt(x); }
    static RECOLOR_COLOR_INLINE T pow(T x, T y) { return std::pow(x, y); }
    static RECOLOR_COLOR_INLINE T exp(T x) { return std::exp(x); }
    // For |x| <= pi / 2.
    static RECOLOR_COLOR_INLINE T sin(T x) { return std::sin(x); }
    static RECOLOR_COLOR_INLINE void sincos(T x, T& s, T& c) {
        s = std::sin(x);
        c = std::cos(x);
    }
    // The hue angle of (a, b) in [0, 2 pi]; 0 for a = b = 0, whatever the signs of the zeros
    // (Sharma et al., eq. 4).
    static RECOLOR_COLOR_INLINE T hue(T b, T a) {
        if (a == T(0) && b == T(0)) return T(0);
        const T h = std::atan2(b, a);
        return h < T(0) ? h + T(2 * pi) : h;
    }
};

namespace fast {

RECOLOR_COLOR_INLINE std::int32_t bits_of(float x) {
#if defined(__CUDA_ARCH__)
    return __float_as_int(x);
#else
    std::int32_t i;
    std::memcpy(&i, &x, sizeof i);
    return i;
#endif
}

RECOLOR_COLOR_INLINE float float_of(std::int32_t i) {
#if defined(__CUDA_ARCH__)
    return __int_as_float(i);
#else
    float x;
    std::memcpy(&x, &i, sizeof x);
    return x;
#endif
}

// Polynomial coefficients below are near-minimax fits (Lawson-weighted least squares on
// Chebyshev nodes) of the named function over the named interval, made for this file.

// atan(t) / t as a polynomial in s = t^2, t in [0, 1]: 1.7e-7 rad.
RECOLOR_COLOR_INLINE float atan_01(float t) {
    const float s = t * t;
    float p = -0.0047804504f;
    p = p * s + 0.024557108f;
    p = p * s - 0.059904691f;
    p = p * s + 0.099427573f;
    p = p * s - 0.14029419f;
    p = p * s + 0.19971375f;
    p = p * s - 0.33332095f;
    p = p * s + 0.99999994f;
    return t * p;
}

// sin(x) for |x| <= pi / 2: 1.5e-7.
RECOLOR_COLOR_INLINE float sin_half_pi(float x) {
    const float s = x * x;
    float p = 2.6052248e-6f;
    p = p * s - 0.00019809075f;
    p = p * s + 0.0083330506f;
    p = p * s - 0.16666658f;
    return x + x * (p * s);
}

// c ? a : b with both a and b computed: a branch-free select the vectoriser keeps as a blend.
// (A plain ?: lets the compiler move a's or b's arithmetic under a branch, which it then may
// not vectorise without masked instructions, since floating-point arithmetic may trap.)
RECOLOR_COLOR_INLINE float select(bool c, float a, float b) {
#if defined(__CUDA_ARCH__)
    return c ? a : b;
#else
    const std::int32_t m = -static_cast<std::int32_t>(c);
    return float_of((bits_of(a) & m) | (bits_of(b) & ~m));
#endif
}

// x rounded to the nearest integer, as a float and as an int, for |x| < 2^22: adding 1.5 * 2^23
// leaves the integer in the low mantissa bits (no float-to-int conversion, which may trap).
RECOLOR_COLOR_INLINE float round_to_int(float x, std::int32_t& k) {
    const float shifted = x + 12582912.0f;
    k = bits_of(shifted) - 0x4b400000;
    return shifted - 12582912.0f;
}

// 2^x for x in [-126, 0]; relative error 2.3e-7.
RECOLOR_COLOR_INLINE float exp2_nonpositive(float x) {
    x = select(x < -126.0f, -126.0f, x);
    std::int32_t k;
    const float f = x - round_to_int(x, k);  // in [-0.5, 0.5]
    float p = 0.0013410004f;
    p = p * f + 0.0096760364f;
    p = p * f + 0.055502973f;
    p = p * f + 0.24022107f;
    p = p * f + 0.69314724f;
    p = p * f + 1.0000001f;
    return p * float_of((k + 127) << 23);
}

// log2(x) for normal x > 0: 6e-8 absolute.
RECOLOR_COLOR_INLINE float log2_positive(float x) {
    const std::int32_t i = bits_of(x);
    float e = static_cast<float>((i >> 23) - 127);
    float m = float_of((i & 0x007fffff) | 0x3f800000);  // in [1, 2)
    const bool high = m > 1.41421356f;
    m = select(high, m * 0.5f, m);
    e = select(high, e + 1.0f, e);
    const float u = m - 1.0f;  // in [-0.29, 0.41]
    float p = 0.12926421f;
    p = p * u - 0.20893377f;
    p = p * u + 0.21521227f;
    p = p * u - 0.23867568f;
    p = p * u + 0.28793910f;
    p = p * u - 0.36071625f;
    p = p * u + 0.48091027f;
    p = p * u - 0.72134721f;
    p = p * u + 1.4426950f;
    return e + u * p;
}

}  // namespace fast

// Float functions that vectorise on the CPU and use the special-function units under nvcc.
struct FastMath {
    static RECOLOR_COLOR_INLINE float select(bool c, float a, float b) {
        return fast::select(c, a, b);
    }

    // a / b for |b| < 2^126.
    static RECOLOR_COLOR_INLINE float div(float a, float b) {
#if defined(__CUDA_ARCH__)
        return __fdividef(a, b);
#else
        return a / b;
#endif
    }

    static RECOLOR_COLOR_INLINE float sqrt(float x) {
#if defined(__CUDA_ARCH__)
        float root;
        asm("sqrt.approx.f32 %0, %1;" : "=f"(root) : "f"(x));
        return root;
#else
        // 1/sqrt from the exponent trick, three Newton steps; x = 0 gives 0.
        float y = fast::float_of(0x5f3759df - (fast::bits_of(x) >> 1));
        const float half = 0.5f * x;
        y = y * (1.5f - (half * y) * y);
        y = y * (1.5f - (half * y) * y);
        y = y * (1.5f - (half * y) * y);
        return x * y;
#endif
    }

    // For x > 0 (other x give a finite value of no meaning).
    static RECOLOR_COLOR_INLINE float cbrt(float x) {
#if defined(__CUDA_ARCH__)
        return exp2f(__log2f(x) * (1.0f / 3.0f));
#else
        // x^(-1/3) from the exponent trick and three Newton steps, then one step on x^(1/3).
        const float third = x * (1.0f / 3.0f);
        float r = fast::float_of(0x54a23000 - fast::bits_of(x) / 3);
        r = r * (4.0f / 3.0f - third * (r * r * r));
        r = r * (4.0f / 3.0f - third * (r * r * r));
        r = r * (4.0f / 3.0f - third * (r * r * r));
        const float c = x * (r * r);
        return c - (c * c * c - x) * (r * r) * (1.0f / 3.0f);
#endif
    }

    // For x > 0 (normal) and x^y <= 1.
    static RECOLOR_COLOR_INLINE float pow(float x, float y) {
#if defined(__CUDA_ARCH__)
        return exp2f(y * __log2f(x));
#else
        return fast::exp2_nonpositive(y * fast::log2_positive(x));
#endif
    }

    // For x <= 0.
    static RECOLOR_COLOR_INLINE float exp(float x) {
#if defined(__CUDA_ARCH__)
        return __expf(x);
#else
        return fast::exp2_nonpositive(x * 1.44269504f);
#endif
    }

    // For |x| <= pi / 2.
    static RECOLOR_COLOR_INLINE float sin(float x) {
#if defined(__CUDA_ARCH__)
        return __sinf(x);
#else
        return fast::sin_half_pi(x);
#endif
    }

    // For x in [0, 2 pi] (and a little beyond).
    static RECOLOR_COLOR_INLINE void sincos(float x, float& s, float& c) {
#if defined(__CUDA_ARCH__)
        // The hardware is most accurate on [-pi, pi]: sin(x) = -sin(x - pi).
        __sincosf(x - static_cast<float>(pi), &s, &c);
        s = -s;
        c = -c;
#else
        // Reduce by pi / 2 (in two parts, Cody and Waite) to r in [-pi / 4, pi / 4].
        std::int32_t q;
        const float qf = fast::round_to_int(x * 0.636619772f, q);
        const float r = (x - qf * 1.5703125f) - qf * 4.83826794897e-4f;
        const float r2 = r * r;
        float ps = -0.00019504022f;
        ps = ps * r2 + 0.0083320364f;
        ps = ps * r2 - 0.16666651f;
        const float sr = r + r * (ps * r2);
        float pc = -0.0013585909f;
        pc = pc * r2 + 0.041655026f;
        pc = pc * r2 - 0.49999857f;
        const float cr = 1.0f + pc * r2;
        // Quadrant q: (sin, cos) = (sr, cr), (cr, -sr), (-sr, -cr), (-cr, sr).
        const bool swap = (q & 1) != 0;
        const float s0 = fast::select(swap, cr, sr);
        const float c0 = fast::select(swap, sr, cr);
        s = fast::select((q & 2) != 0, -s0, s0);
        c = fast::select(((q + 1) & 2) != 0, -c0, c0);
#endif
    }

    // The hue angle of (a, b) in [0, 2 pi]; 0 for a = b = 0.
    static RECOLOR_COLOR_INLINE float hue(float b, float a) {
        const float ax = std::fabs(a);
        const float ay = std::fabs(b);
        const float lo = fast::select(ax < ay, ax, ay);
        const float hi = fast::select(ax < ay, ay, ax);
        const float divisor = fast::select(hi > 0.0f, hi, 1.0f);
#if defined(__CUDA_ARCH__)
        float h = fast::atan_01(__fdividef(lo, divisor));
#else
        float h = fast::atan_01(lo / divisor);
#endif
        h = fast::select(ay > ax, static_cast<float>(pi / 2) - h, h);
        h = fast::select(a < 0.0f, static_cast<float>(pi) - h, h);
        return fast::select(b < 0.0f, static_cast<float>(2 * pi) - h, h);
    }
};

}  // namespace recolor::color
