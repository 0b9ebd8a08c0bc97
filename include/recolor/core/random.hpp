// Philox4x32-10, a counter-based generator: the random numbers for (seed, counter) are a pure
// function of both, so a dropout mask is the same on the CPU and on CUDA, in any thread order.
#pragma once

#include <cstdint>

#include "recolor/core/host_device.hpp"

namespace recolor {

struct Philox4 {
    uint32_t v[4];
};

// Four 32-bit random words for one 128-bit counter (Salmon et al., SC'11, 10 rounds).
RECOLOR_HOST_DEVICE Philox4 philox4x32(uint64_t seed, uint64_t counter_hi, uint64_t counter_lo) {
    uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
    uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
        uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
        uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
        uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return Philox4{{c0, c1, c2, c3}};
}

// A uniform number in [0, 1) from one 32-bit word (24 significant bits, exact in float).
RECOLOR_HOST_DEVICE float uniform_from_bits(uint32_t bits) {
    return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// Uniform [0, 1) for element i of stream (seed, offset): element i uses word i % 4 of counter i
// / 4.
RECOLOR_HOST_DEVICE float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
    Philox4 r = philox4x32(seed, offset, i >> 2);
    return uniform_from_bits(r.v[i & 3]);
}

}  // namespace recolor
