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
        const math::AdamStep update = step;  // a local copy: no aliasing with the tensors
        for (const AdamSlot<T>& s : slots) {
            T* __restrict param = s.param;
            const T* __restrict grad = s.grad;
            T* __restrict m = s.exp_avg;
            T* __restrict v = s.exp_avg_sq;
            const long n = s.numel;
#pragma omp parallel for simd if (n > parallel_threshold)
            for (long i = 0; i < n; ++i) update(param[i], grad[i], m[i], v[i]);
        }
    }
};

}  // namespace recolor::cpu
