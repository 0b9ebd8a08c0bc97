// Adam over every parameter in one launch (a multi-tensor kernel): the slot descriptors of up
// to adam_batch_capacity parameters travel by value in the kernel's parameter space (22 KiB,
// which CUDA 12.1+ allows on sm_70+), so a step needs no host-to-device copy, no allocation and
// no synchronisation, and a CUDA graph captures it whole. Each parameter gets a run of blocks
// of adam_block_elements elements; a block finds its parameter by binary search over the runs.
// The per-element update is math::AdamStep, the CPU's.
#pragma once

#include "grid.cuh"
#include "recolor/ops/math.hpp"

namespace recolor::cuda::kernels {

// The tensors of one parameter, as the multi-tensor update sees them (device pointers).
template <typename T>
struct AdamSlot {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    long numel;
};

inline constexpr int adam_batch_capacity = 512;
inline constexpr int adam_threads = 256;
inline constexpr long adam_block_elements = 4L * adam_threads;

// Slot s owns blocks [block_begin[s], block_begin[s + 1]); block_begin[count] is the grid size.
template <typename T>
struct AdamBatch {
    int count;
    int block_begin[adam_batch_capacity + 1];
    AdamSlot<T> slots[adam_batch_capacity];
};

template <typename T>
__global__ void __launch_bounds__(adam_threads)
    adam_kernel(const __grid_constant__ AdamBatch<T> batch, const math::AdamStep step) {
    // Find this block's parameter: the last slot whose run starts at or before it.
    const int block = static_cast<int>(blockIdx.x);
    int lo = 0, hi = batch.count - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (batch.block_begin[mid] <= block) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    const AdamSlot<T>& slot = batch.slots[lo];

    // Update its share of the parameter.
    const long first = static_cast<long>(block - batch.block_begin[lo]) * adam_block_elements;
    const long end =
        first + adam_block_elements < slot.numel ? first + adam_block_elements : slot.numel;
    for (long i = first + threadIdx.x; i < end; i += blockDim.x) {
        T p = slot.param[i], m = slot.exp_avg[i], v = slot.exp_avg_sq[i];
        step(p, slot.grad[i], m, v);
        slot.param[i] = p;
        slot.exp_avg[i] = m;
        slot.exp_avg_sq[i] = v;
    }
}

}  // namespace recolor::cuda::kernels
