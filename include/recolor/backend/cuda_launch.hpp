// Host-side launchers shared by the backend's parts: whole-tensor sums, per-channel sums and
// per-channel row passes over NCHW tensors (kernels in reduce.cuh and channel.cuh). Every
// launch goes to the context's stream and is checked for a bad configuration at once; its
// scratch memory comes from the pool.
#pragma once

#include <algorithm>

#include "channel.cuh"
#include "recolor/backend/cuda_allocator.hpp"
#include "reduce.cuh"

namespace recolor::cuda {

// out[0] = scale * sum over i < n of load(i), written on the device.
template <typename T, typename Load>
void reduce_sum(long n, Load load, double scale, T* out) {
    const unsigned blocks = std::min(grid_for(n, 4), 1024u);
    Scratch<double> partials(blocks);
    kernels::sum_partials_kernel<<<blocks, kernels::reduce_threads, 0, stream()>>>(n, load,
                                                                                   partials.get());
    RECOLOR_CUDA_CHECK_LAUNCH();
    kernels::sum_finalize_kernel<<<1, kernels::reduce_threads, 0, stream()>>>(
        static_cast<int>(blocks), partials.get(), scale, out);
    RECOLOR_CUDA_CHECK_LAUNCH();
}

// N sums per channel of an NCHW tensor: partial(index, c, sums) adds one element, then
// finalize(c, totals) stores the channel's result. Each channel is split over enough blocks
// to give the device about four blocks per SM, each block at least 1024 elements.
template <int N, typename Partial, typename Finalize>
void channel_reduce(long batch, long channels, long plane, Partial partial, Finalize finalize) {
    const long count = batch * plane;
    const long wanted = (4L * context().multiprocessors() + channels - 1) / channels;
    const long useful = (count + 4 * kernels::reduce_threads - 1) / (4 * kernels::reduce_threads);
    const long splits = std::clamp(std::min(wanted, useful), 1L, 64L);
    Scratch<double> partials(static_cast<size_t>(channels * splits * N));
    const dim3 grid(static_cast<unsigned>(channels), static_cast<unsigned>(splits));
    kernels::channel_partials_kernel<N><<<grid, kernels::reduce_threads, 0, stream()>>>(
        batch, channels, plane, partial, partials.get());
    RECOLOR_CUDA_CHECK_LAUNCH();
    kernels::channel_finalize_kernel<N><<<grid_for(channels), block_threads, 0, stream()>>>(
        channels, static_cast<int>(splits), partials.get(), finalize);
    RECOLOR_CUDA_CHECK_LAUNCH();
}

// f(index, c) for every element of an NCHW tensor of batch * channels rows of `plane`.
template <typename F>
void channel_rows(long batch, long channels, long plane, F f) {
    const long rows = batch * channels;
    if (rows == 0 || plane == 0) return;
    const dim3 grid(grid_for(plane), static_cast<unsigned>(std::min(rows, 65535L)));
    kernels::channel_rows_kernel<<<grid, block_threads, 0, stream()>>>(rows, channels, plane, f);
    RECOLOR_CUDA_CHECK_LAUNCH();
}

// f(c) for every channel.
template <typename F>
void channel_map(long channels, F f) {
    if (channels == 0) return;
    kernels::channel_map_kernel<<<grid_for(channels), block_threads, 0, stream()>>>(channels, f);
    RECOLOR_CUDA_CHECK_LAUNCH();
}

}  // namespace recolor::cuda
