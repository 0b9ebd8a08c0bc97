// The ΔE00 map on the GPU: one fused kernel for a batch of N image pairs. Each thread reads its
// pixels once (the 8-bit interleaved original, the reconstruction's three float planes, the
// mask byte), converts both sides to Lab in registers with the same functions as the CPU loop
// (color::delta_e_pixel, FastMath), writes the map and adds its pixels to the per-image sums,
// which are reduced per block and added to the result with one atomic per block and sum.
//
// The work is memory-bound only if the arithmetic keeps up, so FastMath uses the special-function
// units here, and four pixels go to a thread: twelve bytes of original as three 32-bit words,
// one float4 per plane, one float4 of map. Shapes or pointers that do not allow this take the
// one-pixel path. The sums are in double; atomics make their last bits depend on block order.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "recolor/backend/cuda_check.hpp"
#include "recolor/color/delta_e_map.hpp"

namespace recolor::cuda {

namespace detail {

inline constexpr int delta_e_threads = 256;

// The pixels one thread has seen, for one image (no initialisers: it also lives in shared memory).
struct DeltaEPartial {
    double sum;
    double masked_sum;
    unsigned long long mask_count;

    __device__ void add(float de, bool foreground) {
        sum += de;
        masked_sum += foreground ? double(de) : 0.0;
        mask_count += foreground ? 1ull : 0ull;
    }
};

// Adds a block's partials to stats (thread 0 ends with the block's total).
__device__ inline void delta_e_reduce_block(DeltaEPartial p, color::DeltaEStats* stats) {
    __shared__ DeltaEPartial warps[delta_e_threads / 32];

    // Warp.
    for (int offset = 16; offset > 0; offset /= 2) {
        p.sum += __shfl_down_sync(0xffffffffu, p.sum, offset);
        p.masked_sum += __shfl_down_sync(0xffffffffu, p.masked_sum, offset);
        p.mask_count += __shfl_down_sync(0xffffffffu, p.mask_count, offset);
    }
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) warps[warp] = p;
    __syncthreads();

    // Block.
    if (warp == 0) {
        p = lane < delta_e_threads / 32 ? warps[lane] : DeltaEPartial{0, 0, 0};
        for (int offset = 16; offset > 0; offset /= 2) {
            p.sum += __shfl_down_sync(0xffffffffu, p.sum, offset);
            p.masked_sum += __shfl_down_sync(0xffffffffu, p.masked_sum, offset);
            p.mask_count += __shfl_down_sync(0xffffffffu, p.mask_count, offset);
        }
        if (lane == 0) {
            atomicAdd(&stats->sum, p.sum);
            atomicAdd(&stats->masked_sum, p.masked_sum);
            atomicAdd(reinterpret_cast<unsigned long long*>(&stats->mask_count), p.mask_count);
        }
    }
}

// Grid: x spreads the pixels of one image, y is the image. Vectorized: four pixels per step,
// which needs H W % 4 == 0 and 16-byte aligned planes (checked by the launcher).
template <bool Vectorized>
__global__ void __launch_bounds__(delta_e_threads, 3)
    delta_e_map_kernel(color::DeltaEBatch batch, color::Srgb8Table table, float* map,
                       color::DeltaEStats* stats) {
    __shared__ float linear[256];
    for (int k = threadIdx.x; k < 256; k += blockDim.x) linear[k] = table.linear[k];
    __syncthreads();

    // This image.
    const int image = blockIdx.y;
    const std::int64_t plane = std::int64_t(batch.height) * batch.width;
    const std::uint8_t* original = batch.original + image * plane * 3;
    const float* red = batch.reconstruction + image * plane * 3;
    const float* green = red + plane;
    const float* blue = green + plane;
    const std::uint8_t* mask = batch.mask ? batch.mask + image * plane : nullptr;
    float* out = map ? map + image * plane : nullptr;

    const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
    DeltaEPartial partial{0, 0, 0};
    if constexpr (Vectorized) {
        // Four pixels: bytes r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3.
        const std::int64_t groups = plane / 4;
        const auto* words = reinterpret_cast<const unsigned int*>(original);
        for (std::int64_t g = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; g < groups;
             g += stride) {
            const unsigned int w0 = __ldg(words + 3 * g), w1 = __ldg(words + 3 * g + 1),
                               w2 = __ldg(words + 3 * g + 2);
            const float4 r = __ldg(reinterpret_cast<const float4*>(red) + g);
            const float4 gr = __ldg(reinterpret_cast<const float4*>(green) + g);
            const float4 bl = __ldg(reinterpret_cast<const float4*>(blue) + g);
            const unsigned int m =
                mask ? __ldg(reinterpret_cast<const unsigned int*>(mask) + g) : 0x01010101u;
            auto byte = [](unsigned int w, int i) { return (w >> (8 * i)) & 0xffu; };
            float4 de;
            de.x = color::delta_e_pixel(linear[byte(w0, 0)], linear[byte(w0, 1)],
                                        linear[byte(w0, 2)], r.x, gr.x, bl.x);
            de.y = color::delta_e_pixel(linear[byte(w0, 3)], linear[byte(w1, 0)],
                                        linear[byte(w1, 1)], r.y, gr.y, bl.y);
            de.z = color::delta_e_pixel(linear[byte(w1, 2)], linear[byte(w1, 3)],
                                        linear[byte(w2, 0)], r.z, gr.z, bl.z);
            de.w = color::delta_e_pixel(linear[byte(w2, 1)], linear[byte(w2, 2)],
                                        linear[byte(w2, 3)], r.w, gr.w, bl.w);
            if (out) reinterpret_cast<float4*>(out)[g] = de;
            partial.add(de.x, byte(m, 0) != 0);
            partial.add(de.y, byte(m, 1) != 0);
            partial.add(de.z, byte(m, 2) != 0);
            partial.add(de.w, byte(m, 3) != 0);
        }
    } else {
        for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < plane;
             p += stride) {
            const std::uint8_t* rgb = original + 3 * p;
            const float de = color::delta_e_pixel(linear[rgb[0]], linear[rgb[1]], linear[rgb[2]],
                                                  red[p], green[p], blue[p]);
            if (out) out[p] = de;
            partial.add(de, mask ? mask[p] != 0 : true);
        }
    }

    if (stats) delta_e_reduce_block(partial, stats + image);
}

inline bool aligned(const void* p, std::uintptr_t bytes) {
    return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

}  // namespace detail

// The GPU twin of color::delta_e_map: batch pointers, map[N, H, W] and stats[N] are device
// pointers; map or stats may be null. Asynchronous on stream; stats are zeroed on it first.
inline void delta_e_map(const color::DeltaEBatch& batch, float* map, color::DeltaEStats* stats,
                        cudaStream_t stream = nullptr) {
    color::detail::check_batch(batch, "cuda::delta_e_map");
    RECOLOR_CHECK(batch.n <= 65535,
                  "cuda::delta_e_map: at most 65535 images per launch, found " << batch.n);
    if (batch.n == 0) return;
    if (stats)
        RECOLOR_CUDA_CHECK(cudaMemsetAsync(stats, 0, sizeof(color::DeltaEStats) * batch.n, stream));

    const std::int64_t plane = batch.pixels_per_image();
    const bool vectorized = plane % 4 == 0 && detail::aligned(batch.original, 4) &&
                            detail::aligned(batch.reconstruction, 16) &&
                            (!batch.mask || detail::aligned(batch.mask, 4)) &&
                            (!map || detail::aligned(map, 16));
    // One step per thread: short blocks keep the last wave's tail small.
    const std::int64_t per_thread = vectorized ? 4 : 1;
    const std::int64_t blocks =
        (plane / per_thread + detail::delta_e_threads - 1) / detail::delta_e_threads;
    const dim3 grid(unsigned(std::min<std::int64_t>(blocks, 1 << 30)), unsigned(batch.n));
    const color::Srgb8Table& table = color::srgb8_table();
    if (vectorized)
        detail::delta_e_map_kernel<true>
            <<<grid, detail::delta_e_threads, 0, stream>>>(batch, table, map, stats);
    else
        detail::delta_e_map_kernel<false>
            <<<grid, detail::delta_e_threads, 0, stream>>>(batch, table, map, stats);
    RECOLOR_CUDA_CHECK_LAUNCH();
}

}  // namespace recolor::cuda
