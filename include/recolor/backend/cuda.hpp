// Backend<CUDA>: the CUDA implementation of every primitive the operations call, with the
// signatures of Backend<CPU>. Memory comes from a caching pool, every kernel and library call
// runs on one stream, convolutions are cuDNN's, the rest are the kernels in kernels/*.cuh,
// whose per-element math is ops/math.hpp's. Compiled by nvcc only.
//
// Public controls, in namespace recolor::cuda: set_tf32 (off by default), synchronize,
// stream, memory_stats and empty_cache.
#pragma once

#if !defined(__CUDACC__)
#error "recolor/backend/cuda.hpp holds CUDA kernels: compile this translation unit with nvcc"
#endif

#include "recolor/backend/cuda_adam.hpp"
#include "recolor/backend/cuda_allocator.hpp"
#include "recolor/backend/cuda_batch_norm.hpp"
#include "recolor/backend/cuda_check.hpp"
#include "recolor/backend/cuda_context.hpp"
#include "recolor/backend/cuda_conv.hpp"
#include "recolor/backend/cuda_memory.hpp"
#include "recolor/core/device.hpp"

namespace recolor {

template <>
struct Backend<CUDA> : cuda::MemoryOps, cuda::ConvOps, cuda::BatchNormOps, cuda::AdamOps {
    template <typename T>
    using AdamSlot = cuda::AdamSlot<T>;
};

}  // namespace recolor
