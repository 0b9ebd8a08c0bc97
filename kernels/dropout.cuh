// The dropout mask from Philox (core/random.hpp), the same function of (seed, offset, i) as on
// the CPU, so both backends drop the same elements. One Philox call gives four words: thread k
// computes counter k once and writes elements 4k .. 4k + 3, where the CPU computes the counter
// for each element and keeps word i % 4 (the same word).
#pragma once

#include <cstdint>

#include "grid.cuh"
#include "recolor/core/random.hpp"

namespace recolor::cuda::kernels {

// mask[i] = (uniform(i) >= p) / (1 - p)
template <typename T>
__global__ void dropout_mask_kernel(long n, float p, uint64_t seed, uint64_t offset, T* mask) {
    const T keep_scale = T(1) / (T(1) - T(p));
    const long counters = (n + 3) / 4;
    for (long k = grid_start(); k < counters; k += grid_stride()) {
        const Philox4 words = philox4x32(seed, offset, static_cast<uint64_t>(k));
        for (int w = 0; w < 4; ++w) {
            const long i = 4 * k + w;
            if (i < n) mask[i] = uniform_from_bits(words.v[w]) >= p ? keep_scale : T(0);
        }
    }
}

}  // namespace recolor::cuda::kernels
