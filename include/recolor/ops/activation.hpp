// Activations: relu, leaky_relu, tanh, sigmoid. Each is one element-wise map forward and one
// backward; tanh and sigmoid save their output (their derivative is a function of it).
#pragma once

#include "recolor/autograd/engine.hpp"
#include "recolor/ops/math.hpp"

namespace recolor {

namespace detail {

// y = f(x); backward gives dx = fb(saved, dy), saved being x or y.
template <typename T, typename D, typename F, typename FB>
Tensor<T, D> unary(const char* name, const Tensor<T, D>& x, F f, FB fb, bool save_output) {
    Tensor<T, D> y = Tensor<T, D>::empty(x.shape());
    Backend<D>::map(x.numel(), x.data(), y.data(), f);
    if (autograd::any_requires_grad({&x})) {
        Tensor<T, D> saved = save_output ? y.detach() : x.detach();
        autograd::record(y, name, {&x}, [saved, fb](const Tensor<T, D>& g) {
            Tensor<T, D> dx = Tensor<T, D>::empty(g.shape());
            Backend<D>::map2(g.numel(), saved.data(), g.data(), dx.data(), fb);
            return std::vector<Tensor<T, D>>{dx};
        });
    }
    return y;
}

}  // namespace detail

template <typename T, typename D>
Tensor<T, D> relu(const Tensor<T, D>& x) {
    return detail::unary("relu", x, math::Relu{}, math::ReluBackward{}, false);
}

template <typename T, typename D>
Tensor<T, D> leaky_relu(const Tensor<T, D>& x, float slope = 0.2f) {
    return detail::unary("leaky_relu", x, math::LeakyRelu{slope}, math::LeakyReluBackward{slope},
                         false);
}

template <typename T, typename D>
Tensor<T, D> tanh(const Tensor<T, D>& x) {
    return detail::unary("tanh", x, math::Tanh{}, math::TanhBackward{}, true);
}

template <typename T, typename D>
Tensor<T, D> sigmoid(const Tensor<T, D>& x) {
    return detail::unary("sigmoid", x, math::Sigmoid{}, math::SigmoidBackward{}, true);
}

}  // namespace recolor
