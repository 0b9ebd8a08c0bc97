// Index helpers shared by the kernels: grid-stride loops (any grid covers any n) and the one
// block size the reductions are written for.
#pragma once

#include <cuda_runtime.h>

namespace recolor::cuda::kernels {

// Threads per block of every kernel launched with block_sum (a multiple of 32, at most 1024).
inline constexpr int reduce_threads = 256;

// The first index and the stride of a grid-stride loop over x.
__device__ __forceinline__ long grid_start() {
    return static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long grid_stride() {
    return static_cast<long>(gridDim.x) * blockDim.x;
}

}  // namespace recolor::cuda::kernels
