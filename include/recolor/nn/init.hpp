// Weight initialisation as pix2pix does it: convolution weights normal(0, 0.02), batch-norm
// weights normal(1, 0.02), biases zero. Seeded, so the same seed gives the same network.
#pragma once

#include <cstdint>
#include <random>

#include "recolor/nn/module.hpp"

namespace recolor::nn {

template <typename T, typename D>
void init_weights(Module<T, D>& module, uint64_t seed, double gain = 0.02) {
    std::mt19937_64 rng(seed);
    NoGradGuard no_grad;
    auto params = module.named_parameters();
    auto inits = module.parameter_inits();
    for (size_t i = 0; i < params.size(); ++i) {
        Tensor<T, D>& t = params[i].second;
        std::vector<T> values(static_cast<size_t>(t.numel()), T(0));
        if (inits[i].second != Init::zero) {
            std::normal_distribution<double> normal(
                inits[i].second == Init::norm_weight ? 1.0 : 0.0, gain);
            for (T& v : values) v = static_cast<T>(normal(rng));
        }
        t.copy_from(Tensor<T, D>::from_vector(t.shape(), values));
    }
}

}  // namespace recolor::nn
