// Adam on CUDA: every parameter in one launch of kernels/adam.cuh (more launches only past
// adam_batch_capacity parameters). The slot descriptors go by value as the kernel's argument,
// so the step copies nothing to the device and allocates nothing.
#pragma once

#include <climits>
#include <vector>

#include "adam.cuh"
#include "recolor/backend/cuda_context.hpp"

namespace recolor::cuda {

template <typename T>
using AdamSlot = kernels::AdamSlot<T>;

struct AdamOps {
    template <typename T>
    static void adam_step(const std::vector<AdamSlot<T>>& slots, const math::AdamStep& step) {
        kernels::AdamBatch<T> batch{};
        long blocks = 0;
        auto launch = [&] {
            if (batch.count == 0) return;
            batch.block_begin[batch.count] = static_cast<int>(blocks);
            kernels::adam_kernel<T>
                <<<static_cast<unsigned>(blocks), kernels::adam_threads, 0, stream()>>>(batch,
                                                                                        step);
            RECOLOR_CUDA_CHECK_LAUNCH();
            batch.count = 0;
            blocks = 0;
        };
        for (const AdamSlot<T>& slot : slots) {
            if (slot.numel <= 0) continue;
            const long need =
                (slot.numel + kernels::adam_block_elements - 1) / kernels::adam_block_elements;
            RECOLOR_CHECK(need < INT_MAX, "cuda adam_step: a parameter of "
                                              << slot.numel << " elements is too large");
            if (batch.count == kernels::adam_batch_capacity || blocks + need >= INT_MAX) {
                launch();
            }
            batch.slots[batch.count] = slot;
            batch.block_begin[batch.count] = static_cast<int>(blocks);
            ++batch.count;
            blocks += need;
        }
        launch();
    }
};

}  // namespace recolor::cuda
