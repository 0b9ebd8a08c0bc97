// The CPU ΔE00 map (color::delta_e_map) against a pixel-by-pixel evaluation in double with the
// library's functions, and its sums against the map; the sums must not depend on the number of
// threads or on whether the map is written.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <recolor/color.hpp>

#include "color_reference.hpp"

namespace color = recolor::color;

namespace {

struct Batch {
    int n, height, width;
    std::vector<std::uint8_t> original, mask;
    std::vector<float> reconstruction;

    color::DeltaEBatch view(bool with_mask = true) const {
        return {original.data(),
                reconstruction.data(),
                with_mask ? mask.data() : nullptr,
                n,
                height,
                width};
    }
    std::size_t pixels() const { return std::size_t(n) * height * width; }
};

// Random originals; reconstructions near them (like a generator's) or unrelated, with a few
// values beyond [-1, 1] to exercise the clamp; a random mask.
Batch random_batch(int n, int height, int width, unsigned seed) {
    Batch b{n, height, width, {}, {}, {}};
    const std::size_t plane = std::size_t(height) * width;
    b.original.resize(b.pixels() * 3);
    b.reconstruction.resize(b.pixels() * 3);
    b.mask.resize(b.pixels());
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255), coin(0, 3);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    std::uniform_real_distribution<float> any(-1.05f, 1.05f);
    for (int i = 0; i < n; ++i) {
        for (std::size_t p = 0; p < plane; ++p) {
            const bool related = coin(rng) != 0;
            for (int c = 0; c < 3; ++c) {
                const std::uint8_t v = std::uint8_t(byte(rng));
                b.original[(i * plane + p) * 3 + c] = v;
                b.reconstruction[(i * 3 + c) * plane + p] =
                    related ? v / 127.5f - 1.0f + noise(rng) : any(rng);
            }
            b.mask[i * plane + p] = std::uint8_t(coin(rng) ? byte(rng) | 1 : 0);
        }
    }
    return b;
}

// The reference for pixel p of image i (color_reference.hpp).
color_reference::Pixel reference_pixel(const Batch& b, int image, std::size_t p) {
    const std::size_t plane = std::size_t(b.height) * b.width;
    float rec[3];
    for (int c = 0; c < 3; ++c) rec[c] = b.reconstruction[(image * 3 + c) * plane + p];
    return color_reference::delta_e(&b.original[(image * plane + p) * 3], rec);
}

}  // namespace

TEST_SUITE("color") {
    TEST_CASE("delta_e_map agrees with ciede2000 in double pixel by pixel and in its sums") {
        // Odd sizes: the last chunk and the vector loop's tail are partial.
        for (const auto& shape : {std::array<int, 3>{3, 37, 53}, std::array<int, 3>{2, 70, 90},
                                  std::array<int, 3>{1, 1, 1}}) {
            const Batch b = random_batch(shape[0], shape[1], shape[2], 5);
            std::vector<float> map(b.pixels());
            std::vector<color::DeltaEStats> stats(b.n);
            color::delta_e_map(b.view(), map.data(), stats.data());

            const std::size_t plane = std::size_t(b.height) * b.width;
            double worst = 0;
            for (int i = 0; i < b.n; ++i) {
                double ref_masked = 0, map_sum = 0, map_masked = 0;
                std::int64_t ref_count = 0;
                for (std::size_t p = 0; p < plane; ++p) {
                    const auto [want, gap] = reference_pixel(b, i, p);
                    const float got = map[i * plane + p];
                    if (gap > 1e-3) worst = std::max(worst, std::abs(got - want));
                    map_sum += got;
                    if (b.mask[i * plane + p]) {
                        ref_masked += want;
                        map_masked += got;
                        ++ref_count;
                    }
                }
                CAPTURE(i);
                CHECK(stats[i].mask_count == ref_count);
                CHECK(stats[i].sum == doctest::Approx(map_sum).epsilon(1e-12));
                CHECK(stats[i].masked_sum == doctest::Approx(map_masked).epsilon(1e-12));
                if (ref_count > 0)
                    CHECK(std::abs(stats[i].masked_mean() - ref_masked / ref_count) < 1e-3);
            }
            MESSAGE("largest pixel error against double: " << worst);
            CHECK(worst < 1e-3);
        }
    }

    TEST_CASE("delta_e_map: an image against itself gives a map of zeros") {
        Batch b = random_batch(2, 31, 29, 9);
        const std::size_t plane = std::size_t(b.height) * b.width;
        for (int i = 0; i < b.n; ++i)
            for (std::size_t p = 0; p < plane; ++p)
                for (int c = 0; c < 3; ++c)
                    b.reconstruction[(i * 3 + c) * plane + p] =
                        b.original[(i * plane + p) * 3 + c] / 127.5f - 1.0f;
        std::vector<float> map(b.pixels());
        color::delta_e_map(b.view(), map.data(), nullptr);
        float worst = 0;
        for (float v : map) worst = std::max(worst, v);
        CHECK(worst < 1e-3f);  // the 8-bit table against the float curve: rounding only
    }

    TEST_CASE("delta_e_map: sums alone and map alone and no mask and an empty mask") {
        Batch b = random_batch(2, 45, 61, 13);
        std::vector<float> map(b.pixels()), map2(b.pixels());
        std::vector<color::DeltaEStats> stats(b.n), stats2(b.n), unmasked(b.n);
        color::delta_e_map(b.view(), map.data(), stats.data());
        color::delta_e_map(b.view(), nullptr, stats2.data());
        color::delta_e_map(b.view(), map2.data(), nullptr);
        color::delta_e_map(b.view(false), nullptr, unmasked.data());
        CHECK(map == map2);
        for (int i = 0; i < b.n; ++i) {
            CHECK(stats2[i].sum == stats[i].sum);
            CHECK(stats2[i].masked_sum == stats[i].masked_sum);
            CHECK(stats2[i].mask_count == stats[i].mask_count);
            CHECK(unmasked[i].sum == stats[i].sum);
            CHECK(unmasked[i].masked_sum == stats[i].sum);
            CHECK(unmasked[i].mask_count == std::int64_t(b.height) * b.width);
            CHECK(unmasked[i].masked_mean() == stats[i].sum / (b.height * b.width));
        }
        std::fill(b.mask.begin(), b.mask.end(), 0);
        color::delta_e_map(b.view(), nullptr, stats.data());
        CHECK(stats[0].mask_count == 0);
        CHECK(stats[0].masked_sum == 0.0);
        CHECK(std::isnan(stats[0].masked_mean()));
    }

    TEST_CASE("delta_e_map: the result does not depend on the number of threads") {
#if defined(_OPENMP)
        const Batch b = random_batch(3, 100, 130, 17);
        std::vector<float> map1(b.pixels()), map2(b.pixels());
        std::vector<color::DeltaEStats> s1(b.n), s2(b.n);
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        color::delta_e_map(b.view(), map1.data(), s1.data());
        omp_set_num_threads(std::max(2, threads));
        color::delta_e_map(b.view(), map2.data(), s2.data());
        omp_set_num_threads(threads);
        CHECK(map1 == map2);
        for (int i = 0; i < b.n; ++i) {
            CHECK(s1[i].sum == s2[i].sum);
            CHECK(s1[i].masked_sum == s2[i].masked_sum);
        }
#else
        MESSAGE("skipped: built without OpenMP");
#endif
    }

    TEST_CASE("delta_e_map: the vectorised loop agrees with the baseline loop") {
        const Batch b = random_batch(1, 64, 64, 19);
        const std::size_t plane = std::size_t(b.height) * b.width;
        std::vector<float> wide(plane), base(plane);
        const float* r = b.reconstruction.data();
        const color::detail::DeltaESpan span{
            color::srgb8_table().linear, b.original.data(), r, r + plane, r + 2 * plane,
            std::int64_t(plane),         wide.data()};
        color::detail::delta_e_span_for_this_cpu()(span);
        color::detail::DeltaESpan span_base = span;
        span_base.out = base.data();
        color::detail::delta_e_span_baseline(span_base);
        float worst = 0;
        for (std::size_t p = 0; p < plane; ++p) {
            if (reference_pixel(b, 0, p).hue_gap > 1e-3)
                worst = std::max(worst, std::abs(wide[p] - base[p]));
        }
        CHECK(worst < 1e-4f);
    }

    TEST_CASE("delta_e_map rejects a bad shape with a message naming it") {
        const Batch b = random_batch(1, 4, 4, 1);
        color::DeltaEBatch bad = b.view();
        bad.height = 0;
        CHECK_THROWS_WITH_AS(color::delta_e_map(bad, nullptr, nullptr),
                             doctest::Contains("found (1, 0, 4)"), recolor::Error);
        bad = b.view();
        bad.original = nullptr;
        CHECK_THROWS_AS(color::delta_e_map(bad, nullptr, nullptr), recolor::Error);
        bad = b.view();
        bad.n = 0;  // an empty batch is fine
        CHECK_NOTHROW(color::delta_e_map(bad, nullptr, nullptr));
    }
}
