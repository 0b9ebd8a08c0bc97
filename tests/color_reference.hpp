// The ΔE00 of one map pixel in double with the library's precise functions, for the map tests
// (CPU and GPU), and how far its two hues are from exactly opposite, where either branch of the
// mean hue is right and a float result may legitimately take the other one.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <recolor/color.hpp>

namespace color_reference {

struct Pixel {
    double delta_e;
    double hue_gap;  // | |h'2 - h'1| - pi |, radians
};

// original: three sRGB bytes; reconstruction: three values in [-1, 1] (clamped, as the map does).
inline Pixel delta_e(const std::uint8_t* original, const float* reconstruction) {
    namespace color = recolor::color;
    double rgb0[3], rgb1[3];
    for (int c = 0; c < 3; ++c) {
        rgb0[c] = original[c] / 255.0;
        rgb1[c] = std::min(1.0, std::max(0.0, (double(reconstruction[c]) + 1) / 2));
    }
    const color::Lab<double> x = color::srgb_to_lab(rgb0[0], rgb0[1], rgb0[2]);
    const color::Lab<double> y = color::srgb_to_lab(rgb1[0], rgb1[1], rgb1[2]);
    const double c_mean = 0.5 * (std::hypot(x.a, x.b) + std::hypot(y.a, y.b));
    const double c7 = std::pow(c_mean, 7);
    const double scale = 1 + 0.5 * (1 - std::sqrt(c7 / (c7 + std::pow(25.0, 7))));
    using M = color::PreciseMath<double>;
    const double h1 = M::hue(x.b, x.a * scale), h2 = M::hue(y.b, y.a * scale);
    return {color::ciede2000(x, y), std::abs(std::abs(h2 - h1) - color::pi)};
}

}  // namespace color_reference
