// Arithmetic the losses are built from: add, scale, sum and mean (to a one-element tensor).
#pragma once

#include "recolor/autograd/engine.hpp"

namespace recolor {

// alpha * a + beta * b, same shapes.
template <typename T, typename D>
Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b, T alpha = T(1), T beta = T(1)) {
    check_shape("add", "second operand", a.shape(), b.shape());
    Tensor<T, D> y = Tensor<T, D>::empty(a.shape());
    Backend<D>::axpby(a.numel(), alpha, a.data(), beta, b.data(), y.data());
    if (autograd::any_requires_grad({&a, &b})) {
        autograd::record(y, "add", {&a, &b}, [alpha, beta](const Tensor<T, D>& g) {
            Tensor<T, D> da = Tensor<T, D>::zeros(g.shape()), db = Tensor<T, D>::zeros(g.shape());
            Backend<D>::axpy(static_cast<size_t>(g.numel()), alpha, g.data(), da.data());
            Backend<D>::axpy(static_cast<size_t>(g.numel()), beta, g.data(), db.data());
            return std::vector<Tensor<T, D>>{da, db};
        });
    }
    return y;
}

template <typename T, typename D>
Tensor<T, D> scale(const Tensor<T, D>& x, T factor) {
    Tensor<T, D> y = Tensor<T, D>::zeros(x.shape());
    Backend<D>::axpy(static_cast<size_t>(x.numel()), factor, x.data(), y.data());
    if (autograd::any_requires_grad({&x})) {
        autograd::record(y, "scale", {&x}, [factor](const Tensor<T, D>& g) {
            Tensor<T, D> dx = Tensor<T, D>::zeros(g.shape());
            Backend<D>::axpy(static_cast<size_t>(g.numel()), factor, g.data(), dx.data());
            return std::vector<Tensor<T, D>>{dx};
        });
    }
    return y;
}

namespace detail {

template <typename T, typename D>
Tensor<T, D> reduce(const char* name, const Tensor<T, D>& x, double factor) {
    Tensor<T, D> y = Tensor<T, D>::empty({1});
    Backend<D>::sum(x.numel(), x.data(), factor, y.data());
    if (autograd::any_requires_grad({&x})) {
        Shape shape = x.shape();
        autograd::record(y, name, {&x}, [shape, factor](const Tensor<T, D>& g) {
            Tensor<T, D> dx = Tensor<T, D>::empty(shape);
            Backend<D>::broadcast_scalar(dx.numel(), g.data(), factor, dx.data());
            return std::vector<Tensor<T, D>>{dx};
        });
    }
    return y;
}

}  // namespace detail

template <typename T, typename D>
Tensor<T, D> sum(const Tensor<T, D>& x) {
    return detail::reduce("sum", x, 1.0);
}

template <typename T, typename D>
Tensor<T, D> mean(const Tensor<T, D>& x) {
    return detail::reduce("mean", x, 1.0 / static_cast<double>(x.numel()));
}

}  // namespace recolor
