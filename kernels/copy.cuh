// Strided block copies: `blocks` runs of `length` elements from src (a run every src_stride
// elements) to dst (every dst_stride). Channel concatenation and its backward are made of these.
#pragma once

#include "grid.cuh"

namespace recolor::cuda::kernels {

// Blocks walk runs along y and each run along x, so no thread divides by the run length.
template <typename T>
__global__ void copy_blocks_kernel(long blocks, long length, const T* src, long src_stride, T* dst,
                                   long dst_stride) {
    for (long b = blockIdx.y; b < blocks; b += gridDim.y) {
        const T* from = src + b * src_stride;
        T* to = dst + b * dst_stride;
        for (long i = grid_start(); i < length; i += grid_stride()) to[i] = from[i];
    }
}

}  // namespace recolor::cuda::kernels
