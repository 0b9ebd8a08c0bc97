// sRGB -> linear RGB -> XYZ (D65) -> CIELAB with scikit-image's constants (rgb2lab, 0.19), so
// that scores computed here match the Python reference: linearisation threshold 0.04045 and
// exponent 2.4, the 6-decimal sRGB matrix, white (0.95047, 1, 1.08883), and the 0.008856 /
// 7.787 branch of f. The steps are templates on the math policy (math.hpp): srgb_to_lab is the
// precise one, the ΔE00 map instantiates the same steps with FastMath.
#pragma once

#include "recolor/color/math.hpp"

namespace recolor::color {

template <class T>
struct Lab {
    T L, a, b;
};

template <class T>
struct Xyz {
    T x, y, z;
};

namespace srgb {

inline constexpr double linear_threshold = 0.04045;
inline constexpr double linear_slope = 12.92;
inline constexpr double gamma = 2.4;

// X, Y, Z from linear R, G, B, row by row (scikit-image's xyz_from_rgb). Scalars, not an
// array, so that device code may read them.
inline constexpr double xr = 0.412453, xg = 0.357580, xb = 0.180423;
inline constexpr double yr = 0.212671, yg = 0.715160, yb = 0.072169;
inline constexpr double zr = 0.019334, zg = 0.119193, zb = 0.950227;

// D65 white, 2-degree observer.
inline constexpr double white_x = 0.95047, white_y = 1.0, white_z = 1.08883;

// f(t) = cbrt(t) above this, 7.787 t + 16 / 116 at or below.
inline constexpr double lab_threshold = 0.008856;
inline constexpr double lab_slope = 7.787;

}  // namespace srgb

// One sRGB channel in [0, 1] to linear light.
template <class T, class Math = PreciseMath<T>>
RECOLOR_COLOR_INLINE T srgb_to_linear(T c) {
    // Constant divisors as reciprocals: within an ulp of dividing, and far cheaper on a GPU.
    const T curve = Math::pow((c + T(0.055)) * T(1 / 1.055), T(srgb::gamma));
    const T line = c * T(1 / srgb::linear_slope);
    return Math::select(c > T(srgb::linear_threshold), curve, line);
}

// Linear RGB to XYZ with the sRGB matrix.
template <class T>
RECOLOR_COLOR_INLINE Xyz<T> linear_to_xyz(T r, T g, T b) {
    using namespace srgb;
    return {T(xr) * r + T(xg) * g + T(xb) * b, T(yr) * r + T(yg) * g + T(yb) * b,
            T(zr) * r + T(zg) * g + T(zb) * b};
}

// CIELAB's f on a white-normalised coordinate.
template <class T, class Math = PreciseMath<T>>
RECOLOR_COLOR_INLINE T lab_f(T t) {
    const T root = Math::cbrt(t);
    const T line = T(srgb::lab_slope) * t + T(16.0 / 116.0);
    return Math::select(t > T(srgb::lab_threshold), root, line);
}

// XYZ (D65) to CIELAB.
template <class T, class Math = PreciseMath<T>>
RECOLOR_COLOR_INLINE Lab<T> xyz_to_lab(Xyz<T> xyz) {
    const T fx = lab_f<T, Math>(xyz.x * T(1 / srgb::white_x));
    const T fy = lab_f<T, Math>(xyz.y * T(1 / srgb::white_y));
    const T fz = lab_f<T, Math>(xyz.z * T(1 / srgb::white_z));
    return {T(116) * fy - T(16), T(500) * (fx - fy), T(200) * (fy - fz)};
}

// Linear RGB to CIELAB.
template <class T, class Math = PreciseMath<T>>
RECOLOR_COLOR_INLINE Lab<T> linear_to_lab(T r, T g, T b) {
    return xyz_to_lab<T, Math>(linear_to_xyz(r, g, b));
}

// sRGB with r, g, b in [0, 1] to CIELAB (D65), as scikit-image's rgb2lab.
template <class T>
RECOLOR_COLOR_INLINE Lab<T> srgb_to_lab(T r, T g, T b) {
    return linear_to_lab<T>(srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b));
}

}  // namespace recolor::color
