// The CPU backend's memory, copies, element-wise maps and reductions. Loops are OpenMP-parallel
// above a size where threads pay for themselves; sums accumulate in double.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "recolor/core/error.hpp"
#include "recolor/core/random.hpp"

namespace recolor::cpu {

// Below this many elements a loop runs on one thread.
inline constexpr long parallel_threshold = 1 << 15;

// A deterministic parallel sum of f(i) for i in [0, n): the range is cut into a fixed number of
// chunks whatever the thread count, and the chunk sums are added in order, so a seeded run gives
// the same bits on any machine (an OpenMP reduction adds partial sums in finishing order).
template <typename F>
double ordered_sum(long n, F f) {
    constexpr long chunks = 64;
    double partial[chunks] = {};
    const long chunk = (n + chunks - 1) / chunks;
#pragma omp parallel for if (n > parallel_threshold)
    for (long c = 0; c < chunks; ++c) {
        double total = 0;
        const long end = std::min(n, (c + 1) * chunk);
        for (long i = c * chunk; i < end; ++i) total += f(i);
        partial[c] = total;
    }
    double total = 0;
    for (long c = 0; c < chunks; ++c) total += partial[c];
    return total;
}

struct MemoryOps {
    static void* allocate(size_t bytes) {
        size_t rounded = (bytes + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, rounded);
        RECOLOR_CHECK(p != nullptr,
                      "cpu: out of memory allocating " << bytes / (1 << 20) << " MiB");
        return p;
    }
    static void deallocate(void* p) { std::free(p); }

    template <typename T>
    static void fill(T* p, long n, T value) {
#pragma omp parallel for if (n > parallel_threshold)
        for (long i = 0; i < n; ++i) p[i] = value;
    }
    template <typename T>
    static void copy(T* dst, const T* src, size_t n) {
        if (n) std::memcpy(dst, src, n * sizeof(T));
    }
    template <typename T>
    static void to_host(T* host, const T* src, size_t n) {
        copy(host, src, n);
    }
    template <typename T>
    static void from_host(T* dst, const T* host, size_t n) {
        copy(dst, host, n);
    }

    // y += alpha * x
    template <typename T>
    static void axpy(size_t n, T alpha, const T* x, T* y) {
        const long count = static_cast<long>(n);
#pragma omp parallel for if (count > parallel_threshold)
        for (long i = 0; i < count; ++i) y[i] += alpha * x[i];
    }
    // y = alpha * x + beta * z
    template <typename T>
    static void axpby(long n, T alpha, const T* x, T beta, const T* z, T* y) {
#pragma omp parallel for if (n > parallel_threshold)
        for (long i = 0; i < n; ++i) y[i] = alpha * x[i] + beta * z[i];
    }

    template <typename T, typename F>
    static void map(long n, const T* x, T* y, F f) {
#pragma omp parallel for if (n > parallel_threshold)
        for (long i = 0; i < n; ++i) y[i] = f(x[i]);
    }
    template <typename T, typename F>
    static void map2(long n, const T* a, const T* b, T* y, F f) {
#pragma omp parallel for if (n > parallel_threshold)
        for (long i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
    }
    // out[0] = scale * sum_i f(a[i], b[i])
    template <typename T, typename F>
    static void map2_sum(long n, const T* a, const T* b, F f, double scale, T* out) {
        const double total =
            ordered_sum(n, [&](long i) { return static_cast<double>(f(a[i], b[i])); });
        out[0] = static_cast<T>(total * scale);
    }
    // y[i] = g[0] * scale * f(a[i], b[i]): the backward of map2_sum.
    template <typename T, typename F>
    static void map2_scaled(long n, const T* a, const T* b, F f, const T* g, double scale, T* y) {
        const T s = static_cast<T>(g[0] * scale);
#pragma omp parallel for if (n > parallel_threshold)
        for (long i = 0; i < n; ++i) y[i] = s * f(a[i], b[i]);
    }
    // out[0] = scale * sum(x)
    template <typename T>
    static void sum(long n, const T* x, double scale, T* out) {
        const double total = ordered_sum(n, [&](long i) { return static_cast<double>(x[i]); });
        out[0] = static_cast<T>(total * scale);
    }
    // y[i] = g[0] * scale
    template <typename T>
    static void broadcast_scalar(long n, const T* g, double scale, T* y) {
        fill(y, n, static_cast<T>(g[0] * scale));
    }

    // Copies `blocks` blocks of `length` elements from src (stride src_stride) to dst.
    template <typename T>
    static void copy_blocks(long blocks, long length, const T* src, long src_stride, T* dst,
                            long dst_stride) {
#pragma omp parallel for if (blocks * length > parallel_threshold)
        for (long b = 0; b < blocks; ++b) {
            std::memcpy(dst + b * dst_stride, src + b * src_stride, length * sizeof(T));
        }
    }

    // mask[i] = (uniform >= p) / (1 - p), from Philox stream (seed, offset).
    template <typename T>
    static void dropout_mask(long n, float p, uint64_t seed, uint64_t offset, T* mask) {
        const T keep_scale = T(1) / (T(1) - T(p));
#pragma omp parallel for if (n > parallel_threshold)
        for (long i = 0; i < n; ++i) {
            mask[i] =
                philox_uniform(seed, offset, static_cast<uint64_t>(i)) >= p ? keep_scale : T(0);
        }
    }

    // Per-channel bias: y[n, c, :] += bias[c].
    template <typename T>
    static void add_channel_bias(long batch, long channels, long plane, const T* bias, T* y) {
#pragma omp parallel for collapse(2) if (batch * channels * plane > parallel_threshold)
        for (long n = 0; n < batch; ++n) {
            for (long c = 0; c < channels; ++c) {
                T* row = y + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) row[i] += bias[c];
            }
        }
    }
    // grad_bias[c] = sum over n and the plane of g[n, c, :].
    template <typename T>
    static void channel_sum(long batch, long channels, long plane, const T* g, T* grad_bias) {
#pragma omp parallel for if (batch * channels * plane > parallel_threshold)
        for (long c = 0; c < channels; ++c) {
            double total = 0;
            for (long n = 0; n < batch; ++n) {
                const T* row = g + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) total += row[i];
            }
            grad_bias[c] = static_cast<T>(total);
        }
    }
};

}  // namespace recolor::cpu
