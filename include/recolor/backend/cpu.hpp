// Backend<CPU>: the CPU implementation of every primitive the operations call, gathered from
// the memory, convolution, batch-norm and Adam parts.
#pragma once

#include "recolor/backend/cpu_adam.hpp"
#include "recolor/backend/cpu_batch_norm.hpp"
#include "recolor/backend/cpu_conv.hpp"
#include "recolor/backend/cpu_memory.hpp"
#include "recolor/core/device.hpp"

namespace recolor {

template <>
struct Backend<CPU> : cpu::MemoryOps, cpu::ConvOps, cpu::BatchNormOps, cpu::AdamOps {
    template <typename T>
    using AdamSlot = cpu::AdamSlot<T>;
};

}  // namespace recolor
