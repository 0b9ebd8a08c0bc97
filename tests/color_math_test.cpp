// FastMath, the branch-free float functions behind the ΔE00 map, against the C++ library in
// double over the ranges the colour formulas give them; and the float formulas as a whole
// against their double evaluation on random pairs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include <recolor/color.hpp>

using recolor::color::FastMath;
using recolor::color::Lab;

namespace {

// Largest |f(x) - g(x)| / max(|g(x)|, floor) over n points spread evenly on [lo, hi].
template <class Fast, class Exact>
double worst_error(Fast fast, Exact exact, double lo, double hi, double floor, int n = 200001) {
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        const float x = float(lo + (hi - lo) * i / (n - 1));
        const double want = exact(double(x));
        const double err = std::abs(double(fast(x)) - want) / std::max(std::abs(want), floor);
        worst = std::max(worst, err);
    }
    return worst;
}

// |h'2 - h'1| - pi in double: how far a pair lies from the discontinuity of the mean hue.
double hue_gap(Lab<double> x, Lab<double> y) {
    using M = recolor::color::PreciseMath<double>;
    const double c = 0.5 * (std::hypot(x.a, x.b) + std::hypot(y.a, y.b));
    const double c7 = std::pow(c, 7);
    const double scale = 1 + 0.5 * (1 - std::sqrt(c7 / (c7 + std::pow(25.0, 7))));
    const double h1 = M::hue(x.b, x.a * scale), h2 = M::hue(y.b, y.a * scale);
    return std::abs(std::abs(h2 - h1) - recolor::color::pi);
}

}  // namespace

TEST_SUITE("color") {
    TEST_CASE("FastMath functions are within a few float ulp of the library") {
        // sqrt and cbrt: relative; the others: absolute near zero, relative elsewhere.
        CHECK(worst_error([](float x) { return FastMath::sqrt(x); },
                          [](double x) { return std::sqrt(x); }, 0, 4e4, 1e-30) < 4e-7);
        CHECK(FastMath::sqrt(0.0f) == 0.0f);
        CHECK(worst_error([](float x) { return FastMath::cbrt(x); },
                          [](double x) { return std::cbrt(x); }, 0.008, 1.2, 1e-30) < 4e-7);
        CHECK(worst_error([](float x) { return FastMath::pow(x, 2.4f); },
                          [](double x) { return std::pow(x, 2.4); }, 0.05, 1, 1e-30) < 1e-6);
        // exp: x log2(e) rounded to float costs up to 4e-6 relative at x = -80 (where exp is
        // 1e-35); near 0, where the hue rotation uses it, it is within 1e-6.
        CHECK(worst_error([](float x) { return FastMath::exp(x); },
                          [](double x) { return std::exp(x); }, -10, 0, 1e-30) < 1e-6);
        CHECK(worst_error([](float x) { return FastMath::exp(x); },
                          [](double x) { return std::exp(x); }, -80, 0, 1e-30) < 5e-6);
        CHECK(FastMath::exp(-200.0f) < 1e-37f);
        CHECK(worst_error([](float x) { return FastMath::sin(x); },
                          [](double x) { return std::sin(x); }, -1.5707963, 1.5707963, 1.0) < 3e-7);
        CHECK(worst_error(
                  [](float x) {
                      float s, c;
                      FastMath::sincos(x, s, c);
                      return s;
                  },
                  [](double x) { return std::sin(x); }, 0, 6.3, 1.0) < 4e-7);
        CHECK(worst_error(
                  [](float x) {
                      float s, c;
                      FastMath::sincos(x, s, c);
                      return c;
                  },
                  [](double x) { return std::cos(x); }, 0, 6.3, 1.0) < 4e-7);
    }

    TEST_CASE("FastMath::hue is atan2 on 0 to 2 pi and 0 for a = b = 0") {
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> ab(-130, 130);
        double worst = 0;
        for (int i = 0; i < 200000; ++i) {
            const float a = ab(rng), b = ab(rng);
            const double want = recolor::color::PreciseMath<double>::hue(b, a);
            double got = FastMath::hue(b, a);
            // Just below 2 pi and just above 0 are the same direction.
            const double diff = std::abs(got - want);
            worst = std::max(worst, std::min(diff, 2 * recolor::color::pi - diff));
        }
        CHECK(worst < 8e-7);  // one float ulp at 2 pi is 4.8e-7
        CHECK(FastMath::hue(0.0f, 0.0f) == 0.0f);
        CHECK(FastMath::hue(-0.0f, -0.0f) == 0.0f);
        CHECK(FastMath::hue(0.0f, -0.0f) == 0.0f);
        CHECK(FastMath::hue(0.0f, -1.0f) == doctest::Approx(recolor::color::pi));
        CHECK(FastMath::hue(-1.0f, 0.0f) == doctest::Approx(1.5 * recolor::color::pi));
    }

    TEST_CASE("float ciede2000 is within 1e-3 of double on random pairs") {
        // Pairs far apart and pairs close together (as a reconstruction is to its original);
        // pairs within 1e-3 rad of hues exactly opposite are left out (either branch is right).
        std::mt19937 rng(11);
        std::uniform_real_distribution<double> l(0, 100), ab(-128, 128), near(-3, 3);
        double worst_precise = 0, worst_fast = 0;
        int compared = 0;
        for (int i = 0; i < 200000; ++i) {
            const Lab<double> x{l(rng), ab(rng), ab(rng)};
            const Lab<double> y =
                i % 2 ? Lab<double>{l(rng), ab(rng), ab(rng)}
                      : Lab<double>{x.L + near(rng), x.a + near(rng), x.b + near(rng)};
            const Lab<float> xf{float(x.L), float(x.a), float(x.b)};
            const Lab<float> yf{float(y.L), float(y.a), float(y.b)};
            const Lab<double> xr{xf.L, xf.a, xf.b}, yr{yf.L, yf.a, yf.b};  // as float holds them
            if (hue_gap(xr, yr) < 1e-3) continue;
            const double want = recolor::color::ciede2000(xr, yr);
            worst_precise =
                std::max(worst_precise, std::abs(recolor::color::ciede2000(xf, yf) - want));
            worst_fast = std::max(
                worst_fast,
                std::abs(recolor::color::ciede2000_with<FastMath>(xf, yf, 1.f, 1.f, 1.f) - want));
            ++compared;
        }
        MESSAGE("largest error: library float " << worst_precise << ", FastMath " << worst_fast
                                                << " over " << compared << " pairs");
        CHECK(compared > 190000);
        CHECK(worst_precise < 1e-3);
        CHECK(worst_fast < 1e-3);
    }

    TEST_CASE("the map's Lab conversions match scikit-image's rgb2lab") {
        // 8-bit originals through the table, reconstructions through the exact curve in
        // FastMath: both within 1e-4 of scikit-image (srgb_lab_skimage.csv).
        const std::string path = std::string(RECOLOR_DATA_DIR) + "/srgb_lab_skimage.csv";
        std::ifstream in(path);
        if (!in) {
            MESSAGE("skipped: no " << path);
            return;
        }
        const auto& table = recolor::color::srgb8_table().linear;
        std::string line;
        std::getline(in, line);
        int rows = 0;
        while (std::getline(in, line)) {
            int rgb[3];
            double lab[3];
            REQUIRE(std::sscanf(line.c_str(), "%d,%d,%d,%lf,%lf,%lf", &rgb[0], &rgb[1], &rgb[2],
                                &lab[0], &lab[1], &lab[2]) == 6);
            const Lab<float> from_bytes = recolor::color::linear_to_lab<float, FastMath>(
                table[rgb[0]], table[rgb[1]], table[rgb[2]]);
            float lin[3];
            for (int c = 0; c < 3; ++c)
                lin[c] = recolor::color::signed_to_linear(float(rgb[c]) / 255.0f * 2.0f - 1.0f);
            const Lab<float> from_floats =
                recolor::color::linear_to_lab<float, FastMath>(lin[0], lin[1], lin[2]);
            CAPTURE(line);
            for (const Lab<float>& got : {from_bytes, from_floats}) {
                CHECK(std::abs(got.L - lab[0]) < 1e-4);
                CHECK(std::abs(got.a - lab[1]) < 1e-4);
                CHECK(std::abs(got.b - lab[2]) < 1e-4);
            }
            ++rows;
        }
        CHECK(rows == 40);
    }
}
