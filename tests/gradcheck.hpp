// A finite-difference gradient check in double: the analytic gradient of
// loss = sum(f(inputs) * r), r a fixed random tensor, against central differences.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <recolor/recolor.hpp>
#include <vector>

namespace recolor::testing {

using TensorD = Tensor<double, CPU>;

inline TensorD random_tensor(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
    for (double& x : v) x = u(rng);
    return TensorD::from_vector(shape, v);
}

// Checks d loss / d input for every input; fails with the first mismatching element.
inline void gradcheck(const std::function<TensorD(std::vector<TensorD>&)>& f,
                      std::vector<TensorD> inputs, double step = 1e-6, double tolerance = 1e-6) {
    for (TensorD& t : inputs) t.set_requires_grad(true);
    TensorD probe = f(inputs);
    TensorD weights = random_tensor(probe.shape(), 99);
    auto loss_of = [&](std::vector<TensorD>& in) {
        TensorD y = f(in);
        std::vector<double> a = y.to_vector(), w = weights.to_vector();
        double s = 0;
        for (size_t i = 0; i < a.size(); ++i) s += a[i] * w[i];
        return s;
    };
    // Analytic: seeding backward with w gives d sum(y * w) / d input.
    for (TensorD& t : inputs) t.zero_grad();
    TensorD y = f(inputs);
    autograd::run_backward(y, weights);

    for (size_t k = 0; k < inputs.size(); ++k) {
        TensorD grad = inputs[k].grad();
        REQUIRE_MESSAGE(grad.defined(), "input " << k << " got no gradient");
        std::vector<double> analytic = grad.to_vector();
        std::vector<double> values = inputs[k].to_vector();
        for (size_t i = 0; i < values.size(); ++i) {
            std::vector<TensorD> shifted = inputs;
            NoGradGuard no_grad;
            auto with = [&](double delta) {
                std::vector<double> v = values;
                v[i] += delta;
                shifted[k] = TensorD::from_vector(inputs[k].shape(), v);
                return loss_of(shifted);
            };
            const double numeric = (with(step) - with(-step)) / (2 * step);
            const double error = std::abs(numeric - analytic[i]);
            if (error > tolerance * (1 + std::abs(numeric))) {
                FAIL_CHECK("input " << k << " element " << i << ": analytic " << analytic[i]
                                    << ", numeric " << numeric);
                return;
            }
        }
    }
}

}  // namespace recolor::testing
