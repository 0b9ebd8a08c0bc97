// Reductions in double, in two kernels so that the result lands in device memory and the host
// never waits: the first writes one partial sum per block, the second adds the partials in a
// fixed order (so a sum is the same from run to run) and writes the result.
//
// Two shapes: a whole tensor to one element (sum, mean, the losses), and per channel of an
// NCHW tensor (bias gradients, batch-norm statistics), where each channel is split over
// several blocks so that a few channels with large planes still fill the device.
#pragma once

#include "grid.cuh"

namespace recolor::cuda::kernels {

__device__ __forceinline__ double warp_sum(double value) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        value += __shfl_down_sync(0xffffffffu, value, offset);
    }
    return value;
}

// The block's total, valid in thread 0; every thread must call it. scratch holds one double
// per warp and may be reused after the call.
__device__ __forceinline__ double block_sum(double value, double* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    value = warp_sum(value);
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = threadIdx.x < blockDim.x / 32 ? scratch[threadIdx.x] : 0.0;
    if (warp == 0) value = warp_sum(value);
    __syncthreads();
    return value;
}

// Loaders: what one element contributes to a whole-tensor sum.
template <typename T>
struct LoadValue {
    const T* x;
    __device__ double operator()(long i) const { return static_cast<double>(x[i]); }
};
template <typename T, typename F>
struct LoadMap2 {  // f(a, b), f from ops/math.hpp
    const T* a;
    const T* b;
    F f;
    __device__ double operator()(long i) const { return static_cast<double>(f(a[i], b[i])); }
};

// partials[block] = sum of load(i) over the block's share of [0, n).
template <typename Load>
__global__ void __launch_bounds__(reduce_threads)
    sum_partials_kernel(long n, Load load, double* partials) {
    __shared__ double scratch[reduce_threads / 32];
    double total = 0;
    for (long i = grid_start(); i < n; i += grid_stride()) total += load(i);
    total = block_sum(total, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// out[0] = scale * sum(partials); one block.
template <typename T>
__global__ void __launch_bounds__(reduce_threads)
    sum_finalize_kernel(int count, const double* partials, double scale, T* out) {
    __shared__ double scratch[reduce_threads / 32];
    double total = 0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) total += partials[i];
    total = block_sum(total, scratch);
    if (threadIdx.x == 0) out[0] = static_cast<T>(total * scale);
}

// N sums per channel, carried together.
template <int N>
struct Sums {
    double v[N];
};

// Per-channel partial sums of an NCHW tensor: block (c, s) adds f's contributions for the s-th
// of gridDim.y equal shares of channel c's batch * plane elements; f(index, c, sums) adds the
// element at flat index `index` to sums. partials[(c * splits + s) * N + k].
template <int N, typename F>
__global__ void __launch_bounds__(reduce_threads)
    channel_partials_kernel(long batch, long channels, long plane, F f, double* partials) {
    __shared__ double scratch[reduce_threads / 32];
    const long c = blockIdx.x, splits = gridDim.y, s = blockIdx.y;
    const long count = batch * plane;
    const long share = (count + splits - 1) / splits;
    const long end = (s + 1) * share < count ? (s + 1) * share : count;

    // Walk the share, keeping (n, i) for element j = n * plane + i without a division per step.
    Sums<N> sums{};
    long j = s * share + threadIdx.x;
    long n = j / plane, i = j - n * plane;
    for (; j < end; j += blockDim.x) {
        f((n * channels + c) * plane + i, c, sums);
        i += blockDim.x;
        if (i >= plane) {
            n += i / plane;
            i %= plane;
        }
    }

    // Reduce.
    for (int k = 0; k < N; ++k) {
        const double total = block_sum(sums.v[k], scratch);
        if (threadIdx.x == 0) partials[(c * splits + s) * N + k] = total;
    }
}

// Adds each channel's partials in order and hands the totals to f(c, totals).
template <int N, typename F>
__global__ void channel_finalize_kernel(long channels, int splits, const double* partials, F f) {
    for (long c = grid_start(); c < channels; c += grid_stride()) {
        Sums<N> totals{};
        for (int s = 0; s < splits; ++s) {
            for (int k = 0; k < N; ++k) totals.v[k] += partials[(c * splits + s) * N + k];
        }
        f(c, totals);
    }
}

}  // namespace recolor::cuda::kernels
