// The CUDA backend's memory, copies, element-wise maps and reductions: the same static
// functions as cpu::MemoryOps, with the same meaning. Pointers are device pointers except the
// host side of to_host and from_host. Nothing here waits for the device except to_host; the
// one-element results of sum and the losses stay on the device.
#pragma once

#include <cstdint>
#include <type_traits>

#include "copy.cuh"
#include "dropout.cuh"
#include "elementwise.cuh"
#include "recolor/backend/cuda_launch.hpp"

namespace recolor::cuda {

struct MemoryOps {
    static void* allocate(size_t bytes) { return allocator().allocate(bytes); }
    static void deallocate(void* p) { allocator().deallocate(p); }

    template <typename T>
    static void fill(T* p, long n, T value) {
        if (n <= 0) return;
        kernels::fill_kernel<<<grid_for(n), block_threads, 0, stream()>>>(n, value, p);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }
    template <typename T>
    static void copy(T* dst, const T* src, size_t n) {
        if (n == 0) return;
        RECOLOR_CUDA_CHECK(
            cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, stream()));
    }
    // Waits for the copy (and so for everything issued before it).
    template <typename T>
    static void to_host(T* host, const T* src, size_t n) {
        if (n == 0) return;
        RECOLOR_CUDA_CHECK(
            cudaMemcpyAsync(host, src, n * sizeof(T), cudaMemcpyDeviceToHost, stream()));
        synchronize();
    }
    // From pageable memory the call returns once the data has been staged, so `host` may be
    // released at once; it does not wait for the device.
    template <typename T>
    static void from_host(T* dst, const T* host, size_t n) {
        if (n == 0) return;
        RECOLOR_CUDA_CHECK(
            cudaMemcpyAsync(dst, host, n * sizeof(T), cudaMemcpyHostToDevice, stream()));
    }

    // y += alpha * x, through cuBLAS.
    template <typename T>
    static void axpy(size_t n, T alpha, const T* x, T* y) {
        if (n == 0) return;
        const auto count = static_cast<int64_t>(n);
        if constexpr (std::is_same_v<T, float>) {
            RECOLOR_CUBLAS_CHECK(cublasSaxpy_64(context().cublas(), count, &alpha, x, 1, y, 1));
        } else {
            static_assert(std::is_same_v<T, double>, "cuda axpy: float or double");
            RECOLOR_CUBLAS_CHECK(cublasDaxpy_64(context().cublas(), count, &alpha, x, 1, y, 1));
        }
    }
    // y = alpha * x + beta * z
    template <typename T>
    static void axpby(long n, T alpha, const T* x, T beta, const T* z, T* y) {
        if (n <= 0) return;
        kernels::axpby_kernel<<<grid_for(n), block_threads, 0, stream()>>>(n, alpha, x, beta, z, y);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }

    template <typename T, typename F>
    static void map(long n, const T* x, T* y, F f) {
        if (n <= 0) return;
        kernels::map_kernel<<<grid_for(n), block_threads, 0, stream()>>>(n, x, y, f);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }
    template <typename T, typename F>
    static void map2(long n, const T* a, const T* b, T* y, F f) {
        if (n <= 0) return;
        kernels::map2_kernel<<<grid_for(n), block_threads, 0, stream()>>>(n, a, b, y, f);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }
    // out[0] = scale * sum_i f(a[i], b[i])
    template <typename T, typename F>
    static void map2_sum(long n, const T* a, const T* b, F f, double scale, T* out) {
        reduce_sum(n, kernels::LoadMap2<T, F>{a, b, f}, scale, out);
    }
    // y[i] = g[0] * scale * f(a[i], b[i]): the backward of map2_sum.
    template <typename T, typename F>
    static void map2_scaled(long n, const T* a, const T* b, F f, const T* g, double scale, T* y) {
        if (n <= 0) return;
        kernels::map2_scaled_kernel<<<grid_for(n), block_threads, 0, stream()>>>(n, a, b, f, g,
                                                                                 scale, y);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }
    // out[0] = scale * sum(x)
    template <typename T>
    static void sum(long n, const T* x, double scale, T* out) {
        reduce_sum(n, kernels::LoadValue<T>{x}, scale, out);
    }
    // y[i] = g[0] * scale
    template <typename T>
    static void broadcast_scalar(long n, const T* g, double scale, T* y) {
        if (n <= 0) return;
        kernels::broadcast_scalar_kernel<<<grid_for(n), block_threads, 0, stream()>>>(n, g, scale,
                                                                                      y);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }

    // Copies `blocks` blocks of `length` elements from src (stride src_stride) to dst.
    template <typename T>
    static void copy_blocks(long blocks, long length, const T* src, long src_stride, T* dst,
                            long dst_stride) {
        if (blocks <= 0 || length <= 0) return;
        const dim3 grid(grid_for(length), static_cast<unsigned>(std::min(blocks, 65535L)));
        kernels::copy_blocks_kernel<<<grid, block_threads, 0, stream()>>>(
            blocks, length, src, src_stride, dst, dst_stride);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }

    // mask[i] = (uniform >= p) / (1 - p), from Philox stream (seed, offset): the CPU's mask.
    template <typename T>
    static void dropout_mask(long n, float p, uint64_t seed, uint64_t offset, T* mask) {
        if (n <= 0) return;
        kernels::dropout_mask_kernel<<<grid_for((n + 3) / 4), block_threads, 0, stream()>>>(
            n, p, seed, offset, mask);
        RECOLOR_CUDA_CHECK_LAUNCH();
    }

    // Per-channel bias: y[n, c, :] += bias[c].
    template <typename T>
    static void add_channel_bias(long batch, long channels, long plane, const T* bias, T* y) {
        channel_rows(batch, channels, plane, kernels::AddChannelBias<T>{bias, y});
    }
    // grad_bias[c] = sum over n and the plane of g[n, c, :].
    template <typename T>
    static void channel_sum(long batch, long channels, long plane, const T* g, T* grad_bias) {
        if (channels <= 0) return;
        channel_reduce<1>(batch, channels, plane, kernels::ChannelValue<T>{g},
                          kernels::StoreChannelSum<T>{grad_bias});
    }
};

}  // namespace recolor::cuda
