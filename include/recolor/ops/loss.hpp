// Losses, each the mean over all elements: L1, MSE, and binary cross-entropy on logits (stable
// for any logit size; see math::BceWithLogits). The target carries no gradient.
#pragma once

#include "recolor/autograd/engine.hpp"
#include "recolor/ops/math.hpp"

namespace recolor {

namespace detail {

template <typename T, typename D, typename F, typename FB>
Tensor<T, D> mean_loss(const char* name, const Tensor<T, D>& input, const Tensor<T, D>& target, F f,
                       FB fb) {
    check_shape(name, "target", input.shape(), target.shape());
    const double inv_n = 1.0 / static_cast<double>(input.numel());
    Tensor<T, D> loss = Tensor<T, D>::empty({1});
    Backend<D>::map2_sum(input.numel(), input.data(), target.data(), f, inv_n, loss.data());
    if (autograd::any_requires_grad({&input})) {
        Tensor<T, D> x = input.detach(), z = target.detach();
        autograd::record(loss, name, {&input, &target}, [x, z, fb, inv_n](const Tensor<T, D>& g) {
            Tensor<T, D> dx = Tensor<T, D>::empty(x.shape());
            Backend<D>::map2_scaled(x.numel(), x.data(), z.data(), fb, g.data(), inv_n, dx.data());
            return std::vector<Tensor<T, D>>{dx, Tensor<T, D>()};
        });
    }
    return loss;
}

}  // namespace detail

template <typename T, typename D>
Tensor<T, D> l1_loss(const Tensor<T, D>& input, const Tensor<T, D>& target) {
    return detail::mean_loss("l1_loss", input, target, math::AbsDifference{},
                             math::AbsDifferenceBackward{});
}

template <typename T, typename D>
Tensor<T, D> mse_loss(const Tensor<T, D>& input, const Tensor<T, D>& target) {
    return detail::mean_loss("mse_loss", input, target, math::SquaredDifference{},
                             math::SquaredDifferenceBackward{});
}

template <typename T, typename D>
Tensor<T, D> bce_with_logits(const Tensor<T, D>& logits, const Tensor<T, D>& target) {
    return detail::mean_loss("bce_with_logits", logits, target, math::BceWithLogits{},
                             math::BceWithLogitsBackward{});
}

// BCE against a constant label (1 for real, 0 for fake), as the GAN losses use it.
template <typename T, typename D>
Tensor<T, D> bce_with_logits(const Tensor<T, D>& logits, T label) {
    return bce_with_logits(logits, Tensor<T, D>::full(logits.shape(), label));
}

}  // namespace recolor
