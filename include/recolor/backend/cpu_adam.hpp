// Adam on the CPU: one fused loop over every element of every parameter.
#pragma once

#include <vector>

#include "recolor/backend/cpu_memory.hpp"
#include "recolor/ops/math.hpp"

namespace recolor::cpu {

// The tensors of one parameter, as the multi-tensor Adam update sees them.
template <typename T>
struct AdamSlot {
    T* param;
    const T* grad;
    T* exp_avg;
    T* exp_avg_sq;
    long numel;
};

struct AdamOps {
    template <typename T>
    static void adam_step(const std::vector<AdamSlot<T>>& slots, const math::AdamStep& step) {
        for (const AdamSlot<T>& s : slots) {
#pragma omp parallel for if (s.numel > parallel_threshold)
            for (long i = 0; i < s.numel; ++i)
                step(s.param[i], s.grad[i], s.exp_avg[i], s.exp_avg_sq[i]);
        }
    }
};

}  // namespace recolor::cpu
