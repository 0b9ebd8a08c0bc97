// Per-channel work on NCHW tensors: a row kernel that visits every element knowing its channel
// without a division per element (blocks walk rows n * C + c along y and the plane along x),
// and the functors of the convolution bias: its add, and its gradient as a channel sum.
#pragma once

#include "reduce.cuh"

namespace recolor::cuda::kernels {

// Calls f(index, c) for every element of `rows` rows of `plane` elements, row r in channel
// r % channels.
template <typename F>
__global__ void channel_rows_kernel(long rows, long channels, long plane, F f) {
    for (long row = blockIdx.y; row < rows; row += gridDim.y) {
        const long c = row % channels;
        for (long i = grid_start(); i < plane; i += grid_stride()) f(row * plane + i, c);
    }
}

// Calls f(c) once for every channel.
template <typename F>
__global__ void channel_map_kernel(long channels, F f) {
    for (long c = grid_start(); c < channels; c += grid_stride()) f(c);
}

// y[n, c, :] += bias[c]
template <typename T>
struct AddChannelBias {
    const T* bias;
    T* y;
    __device__ void operator()(long index, long c) const { y[index] += bias[c]; }
};

// Adds g[n, c, :] into the channel's sum.
template <typename T>
struct ChannelValue {
    const T* g;
    __device__ void operator()(long index, long, Sums<1>& sums) const {
        sums.v[0] += static_cast<double>(g[index]);
    }
};

// grad_bias[c] = the channel's sum.
template <typename T>
struct StoreChannelSum {
    T* out;
    __device__ void operator()(long c, const Sums<1>& totals) const {
        out[c] = static_cast<T>(totals.v[0]);
    }
};

}  // namespace recolor::cuda::kernels
