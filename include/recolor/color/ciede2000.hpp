// CIEDE2000 colour difference (Sharma, Wu and Dalal, 2005), step for step as scikit-image's
// deltaE_ciede2000 computes it, so that the anomaly score matches the Python reference. The body
// is written without branches (selects only) so that the ΔE00 map vectorises, and is shared by
// the CPU loop and the CUDA kernel through the math policy.
//
// Edge cases, by the paper's rules: a colour with C' = 0 has hue 0; when C'1 C'2 = 0 the hue
// difference is 0 and the mean hue is the sum h'1 + h'2; identical colours give exactly 0.
#pragma once

#include "recolor/color/lab.hpp"

namespace recolor::color {

// ΔE00 between x and y with the math policy Math (PreciseMath<T> or FastMath).
template <class Math, class T>
RECOLOR_COLOR_INLINE T ciede2000_with(Lab<T> x, Lab<T> y, T kL, T kC, T kH) {
    constexpr T half_turn = T(pi);
    constexpr T full_turn = T(2 * pi);
    constexpr T pow25_7 = T(6103515625.0);  // 25^7

    // Chroma: stretch a* by G, which depends on the mean chroma.
    const T c1 = Math::sqrt(x.a * x.a + x.b * x.b);
    const T c2 = Math::sqrt(y.a * y.a + y.b * y.b);
    const T c_mean = T(0.5) * (c1 + c2);
    const T c_mean2 = c_mean * c_mean;
    const T c_mean7 = c_mean2 * c_mean2 * c_mean2 * c_mean;
    const T scale = T(1) + T(0.5) * (T(1) - Math::sqrt(Math::div(c_mean7, c_mean7 + pow25_7)));
    const T a1 = x.a * scale;
    const T a2 = y.a * scale;
    const T c1p = Math::sqrt(a1 * a1 + x.b * x.b);
    const T c2p = Math::sqrt(a2 * a2 + y.b * y.b);
    const T h1 = Math::hue(x.b, a1);
    const T h2 = Math::hue(y.b, a2);

    // Lightness.
    const T l_dev = T(0.5) * (x.L + y.L) - T(50);
    const T l_dev2 = l_dev * l_dev;
    const T sl = T(1) + Math::div(T(0.015) * l_dev2, Math::sqrt(T(20) + l_dev2));
    const T l_term = Math::div(y.L - x.L, kL * sl);

    // Chroma.
    const T cp_mean = T(0.5) * (c1p + c2p);
    const T sc = T(1) + T(0.045) * cp_mean;
    const T c_term = Math::div(c2p - c1p, kC * sc);

    // Hue difference, wrapped into [-pi, pi]; 0 when either colour is neutral.
    const T h_diff = h2 - h1;
    const T h_sum = h1 + h2;
    const T cc = c1p * c2p;
    const bool neutral = cc == T(0);
    const bool far = std::fabs(h_diff) > half_turn;
    T dh = Math::select(h_diff > half_turn, h_diff - full_turn, h_diff);
    dh = Math::select(h_diff < -half_turn, h_diff + full_turn, dh);
    dh = Math::select(neutral, T(0), dh);
    const T dh_term = T(2) * Math::sqrt(cc) * Math::sin(T(0.5) * dh);

    // Mean hue: half the sum, moved by a half turn when the hues lie more than pi apart;
    // the plain sum when either colour is neutral.
    const T moved = Math::select(h_sum < full_turn, h_sum + full_turn, h_sum - full_turn);
    const T h_mean = Math::select(neutral, h_sum, T(0.5) * Math::select(far, moved, h_sum));

    // T(h) = 1 - 0.17 cos(h - 30°) + 0.24 cos 2h + 0.32 cos(3h + 6°) - 0.20 cos(4h - 63°),
    // from one sine and cosine by the angle-sum formulas.
    T s1, k1;
    Math::sincos(h_mean, s1, k1);
    const T k2 = k1 * k1 - s1 * s1;
    const T s2 = T(2) * s1 * k1;
    const T k3 = k2 * k1 - s2 * s1;
    const T s3 = s2 * k1 + k2 * s1;
    const T k4 = k2 * k2 - s2 * s2;
    const T s4 = T(2) * s2 * k2;
    const T cos_h_30 = T(0.86602540378443865) * k1 + T(0.5) * s1;
    const T cos_3h_6 = T(0.99452189536827334) * k3 - T(0.10452846326765347) * s3;
    const T cos_4h_63 = T(0.45399049973954679) * k4 + T(0.89100652418836786) * s4;
    const T t = T(1) - T(0.17) * cos_h_30 + T(0.24) * k2 + T(0.32) * cos_3h_6 - T(0.2) * cos_4h_63;
    const T sh = T(1) + T(0.015) * cp_mean * t;
    const T h_term = Math::div(dh_term, kH * sh);

    // Rotation of the blue region: -sin(2 dtheta) R_C.
    const T cp_mean2 = cp_mean * cp_mean;
    const T cp_mean7 = cp_mean2 * cp_mean2 * cp_mean2 * cp_mean;
    const T rc = T(2) * Math::sqrt(Math::div(cp_mean7, cp_mean7 + pow25_7));
    const T z = (h_mean * T(180 / pi) - T(275)) * T(1.0 / 25);
    const T dtheta = T(pi / 6) * Math::exp(-z * z);
    const T r_term = -Math::sin(T(2) * dtheta) * rc * c_term * h_term;

    // Sum; exactly 0 (not -0 or NaN) when the sum is not positive.
    const T de2 = l_term * l_term + c_term * c_term + h_term * h_term + r_term;
    const bool positive = de2 > T(0);
    return Math::select(positive, Math::sqrt(Math::select(positive, de2, T(0))), T(0));
}

// ΔE00 between x and y (kL = kC = kH = 1 by default), in the precision of T.
template <class T>
RECOLOR_COLOR_INLINE T ciede2000(Lab<T> x, Lab<T> y, T kL = T(1), T kC = T(1), T kH = T(1)) {
    return ciede2000_with<PreciseMath<T>>(x, y, kL, kC, kH);
}

}  // namespace recolor::color
