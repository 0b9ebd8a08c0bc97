// The per-pixel ΔE00 map between a batch of originals and their reconstructions, with the sum
// per image and the mean over a foreground mask: the detector's anomaly score, on the CPU.
//
// Inputs are taken as the detector holds them, so nothing is converted twice: the original as
// 8-bit sRGB, interleaved (N, H, W, 3); the reconstruction as the generator's float output in
// [-1, 1], planar (N, 3, H, W). Each pixel is converted to Lab and compared in one pass
// (delta_e_pixel, shared with kernels/delta_e.cuh). The loop is vectorised for the widest
// x86 vector unit found at run time (AVX-512, AVX2, else the compiler's baseline) and spread
// over OpenMP threads in chunks, handed out dynamically (a thread that shares its core with
// another process does not hold the others up); the sums are added per chunk and then in chunk
// order, so they do not depend on the number of threads or on which thread took which chunk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "recolor/color/ciede2000.hpp"
#include "recolor/core/error.hpp"

#if defined(_OPENMP)
#define RECOLOR_COLOR_PRAGMA(x) _Pragma(#x)
#else
#define RECOLOR_COLOR_PRAGMA(x)
#endif

namespace recolor::color {

// A batch of N image pairs of H x W pixels. Pointers are host pointers here and device
// pointers for recolor::cuda::delta_e_map.
struct DeltaEBatch {
    const std::uint8_t* original = nullptr;  // (N, H, W, 3) sRGB bytes
    const float* reconstruction = nullptr;   // (N, 3, H, W) sRGB in [-1, 1]; clamped to it
    const std::uint8_t* mask = nullptr;      // (N, H, W), nonzero = foreground; null = all
    int n = 0;
    int height = 0;
    int width = 0;

    std::int64_t pixels_per_image() const { return std::int64_t(height) * width; }
};

// The reductions for one image.
struct DeltaEStats {
    double sum = 0;               // over all pixels
    double masked_sum = 0;        // over foreground pixels
    std::int64_t mask_count = 0;  // number of foreground pixels

    // Mean ΔE00 over the foreground; NaN when the mask is empty.
    double masked_mean() const {
        return mask_count > 0 ? masked_sum / double(mask_count)
                              : std::numeric_limits<double>::quiet_NaN();
    }
};

// Linear light of each 8-bit sRGB value, k / 255 through the precise curve, rounded to float.
struct Srgb8Table {
    float linear[256];
};

inline const Srgb8Table& srgb8_table() {
    static const Srgb8Table table = [] {
        Srgb8Table t{};
        for (int k = 0; k < 256; ++k) t.linear[k] = float(srgb_to_linear(k / 255.0));
        return t;
    }();
    return table;
}

// A reconstruction value in [-1, 1] to linear light (the exact curve, in FastMath).
RECOLOR_COLOR_INLINE float signed_to_linear(float v) {
    float c = (v + 1.0f) * 0.5f;
    c = FastMath::select(c < 0.0f, 0.0f, c);
    c = FastMath::select(c > 1.0f, 1.0f, c);
    return srgb_to_linear<float, FastMath>(c);
}

// ΔE00 of one pixel, from the original's linear channels and the reconstruction's values.
RECOLOR_COLOR_INLINE float delta_e_pixel(float r0, float g0, float b0, float r1, float g1,
                                         float b1) {
    const Lab<float> x = linear_to_lab<float, FastMath>(r0, g0, b0);
    const Lab<float> y = linear_to_lab<float, FastMath>(signed_to_linear(r1), signed_to_linear(g1),
                                                        signed_to_linear(b1));
    return ciede2000_with<FastMath>(x, y, 1.0f, 1.0f, 1.0f);
}

namespace detail {

// A run of consecutive pixels of one image.
struct DeltaESpan {
    const float* table;            // Srgb8Table::linear
    const std::uint8_t* original;  // first pixel, interleaved
    const float* red;              // first pixel of each plane
    const float* green;
    const float* blue;
    std::int64_t count;
    float* out;
};

#if defined(__GNUC__)
#define RECOLOR_COLOR_FORCE_INLINE inline __attribute__((always_inline))
#else
#define RECOLOR_COLOR_FORCE_INLINE inline
#endif

RECOLOR_COLOR_FORCE_INLINE void delta_e_span_body(const DeltaESpan& s) {
    const float* __restrict table = s.table;
    const std::uint8_t* __restrict original = s.original;
    const float* __restrict red = s.red;
    const float* __restrict green = s.green;
    const float* __restrict blue = s.blue;
    float* __restrict out = s.out;
    const std::int64_t count = s.count;
    RECOLOR_COLOR_PRAGMA(omp simd)
    for (std::int64_t i = 0; i < count; ++i) {
        const std::uint8_t* p = original + 3 * i;
        out[i] = delta_e_pixel(table[p[0]], table[p[1]], table[p[2]], red[i], green[i], blue[i]);
    }
}

inline void delta_e_span_baseline(const DeltaESpan& s) {
    delta_e_span_body(s);
}

#if defined(__GNUC__) && defined(__x86_64__)
#define RECOLOR_COLOR_X86_DISPATCH 1
#if defined(__clang__)
#define RECOLOR_COLOR_AVX512 "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"
#else
#define RECOLOR_COLOR_AVX512 "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512"
#endif
__attribute__((target("avx2,fma"))) inline void delta_e_span_avx2(const DeltaESpan& s) {
    delta_e_span_body(s);
}
__attribute__((target(RECOLOR_COLOR_AVX512))) inline void delta_e_span_avx512(const DeltaESpan& s) {
    delta_e_span_body(s);
}
#endif

using DeltaESpanFn = void (*)(const DeltaESpan&);

// The widest implementation this CPU runs.
inline DeltaESpanFn delta_e_span_for_this_cpu() {
#if defined(RECOLOR_COLOR_X86_DISPATCH)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return delta_e_span_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return delta_e_span_avx2;
#endif
    return delta_e_span_baseline;
}

inline void check_batch(const DeltaEBatch& batch, const char* where) {
    RECOLOR_CHECK(batch.n >= 0 && batch.height > 0 && batch.width > 0,
                  where << ": batch shape must be (N >= 0, H > 0, W > 0), found (" << batch.n
                        << ", " << batch.height << ", " << batch.width << ")");
    RECOLOR_CHECK(batch.n == 0 || (batch.original && batch.reconstruction),
                  where << ": original and reconstruction must not be null");
}

}  // namespace detail

// Writes map[N, H, W] (when map is not null) and stats[N] (when stats is not null).
inline void delta_e_map(const DeltaEBatch& batch, float* map, DeltaEStats* stats) {
    detail::check_batch(batch, "color::delta_e_map");
    constexpr std::int64_t chunk = 4096;
    const std::int64_t plane = batch.pixels_per_image();
    const std::int64_t chunks = (plane + chunk - 1) / chunk;
    const std::int64_t jobs = batch.n * chunks;
    std::vector<double> sums(static_cast<std::size_t>(jobs) * 2);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(jobs));
    const detail::DeltaESpanFn span_fn = detail::delta_e_span_for_this_cpu();
    const float* table = srgb8_table().linear;

    RECOLOR_COLOR_PRAGMA(omp parallel for schedule(dynamic))
    for (std::int64_t job = 0; job < jobs; ++job) {
        // Map.
        const std::int64_t image = job / chunks;
        const std::int64_t begin = (job % chunks) * chunk;
        const std::int64_t count = std::min(chunk, plane - begin);
        alignas(64) float scratch[chunk];
        float* out = map ? map + image * plane + begin : scratch;
        const float* planes = batch.reconstruction + image * 3 * plane + begin;
        span_fn({table, batch.original + (image * plane + begin) * 3, planes, planes + plane,
                 planes + 2 * plane, count, out});

        // Sums, in eight lanes so that they vectorise and stay in a fixed order.
        const std::uint8_t* mask = batch.mask ? batch.mask + image * plane + begin : nullptr;
        double all[8] = {}, masked[8] = {};
        std::int64_t foreground = 0;
        std::int64_t i = 0;
        for (; i + 8 <= count; i += 8) {
            for (int j = 0; j < 8; ++j) all[j] += out[i + j];
            if (mask) {
                for (int j = 0; j < 8; ++j) {
                    masked[j] += mask[i + j] ? double(out[i + j]) : 0.0;
                    foreground += mask[i + j] != 0;
                }
            }
        }
        for (; i < count; ++i) {
            all[0] += out[i];
            if (mask) {
                masked[0] += mask[i] ? double(out[i]) : 0.0;
                foreground += mask[i] != 0;
            }
        }
        double total = 0, masked_total = 0;
        for (int j = 0; j < 8; ++j) total += all[j];
        for (int j = 0; j < 8; ++j) masked_total += masked[j];
        sums[2 * job] = total;
        sums[2 * job + 1] = mask ? masked_total : total;
        counts[job] = mask ? foreground : count;
    }

    if (!stats) return;
    for (int image = 0; image < batch.n; ++image) {
        DeltaEStats s;
        for (std::int64_t c = 0; c < chunks; ++c) {
            const std::int64_t job = image * chunks + c;
            s.sum += sums[2 * job];
            s.masked_sum += sums[2 * job + 1];
            s.mask_count += counts[job];
        }
        stats[image] = s;
    }
}

// One image pair: original (H, W, 3) bytes, reconstruction (3, H, W) in [-1, 1].
inline DeltaEStats delta_e_map(const std::uint8_t* original, const float* reconstruction,
                               const std::uint8_t* mask, int height, int width, float* map) {
    DeltaEStats stats;
    delta_e_map({original, reconstruction, mask, 1, height, width}, map, &stats);
    return stats;
}

}  // namespace recolor::color
