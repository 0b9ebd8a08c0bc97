// batch_norm2d with autograd. Training mode normalises with the batch's statistics and updates
// the running ones in place; eval mode uses the running statistics.
#pragma once

#include "recolor/autograd/engine.hpp"

namespace recolor {

// x (N, C, H, W); weight, bias, running_mean, running_var (C); weight and bias may be undefined.
template <typename T, typename D>
Tensor<T, D> batch_norm2d(const Tensor<T, D>& x, const Tensor<T, D>& weight,
                          const Tensor<T, D>& bias, Tensor<T, D> running_mean,
                          Tensor<T, D> running_var, bool training, double momentum = 0.1,
                          double eps = 1e-5) {
    check_rank("batch_norm2d", "input", 4, x.shape());
    const long batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
    const Shape per_channel{channels};
    if (weight.defined()) check_shape("batch_norm2d", "weight", per_channel, weight.shape());
    if (bias.defined()) check_shape("batch_norm2d", "bias", per_channel, bias.shape());
    if (running_mean.defined())
        check_shape("batch_norm2d", "running_mean", per_channel, running_mean.shape());
    if (running_var.defined())
        check_shape("batch_norm2d", "running_var", per_channel, running_var.shape());
    RECOLOR_CHECK(training || (running_mean.defined() && running_var.defined()),
                  "batch_norm2d: eval mode needs running statistics");
    RECOLOR_CHECK(!training || batch * plane > 1,
                  "batch_norm2d: training needs more than one value per channel, input shape "
                      << shape_string(x.shape()));

    Tensor<T, D> y = Tensor<T, D>::empty(x.shape());
    Tensor<T, D> mean = Tensor<T, D>::empty(per_channel), invstd = Tensor<T, D>::empty(per_channel);
    const T* w = weight.defined() ? weight.data() : nullptr;
    const T* b = bias.defined() ? bias.data() : nullptr;
    if (training) {
        T* rm = running_mean.defined() ? running_mean.data() : nullptr;
        T* rv = running_var.defined() ? running_var.data() : nullptr;
        Backend<D>::batch_norm_forward_train(batch, channels, plane, x.data(), w, b, y.data(),
                                             mean.data(), invstd.data(), rm, rv, momentum, eps);
    } else {
        Backend<D>::batch_norm_forward_eval(batch, channels, plane, x.data(), w, b,
                                            running_mean.data(), running_var.data(), y.data(),
                                            invstd.data(), eps);
        mean = running_mean.detach().clone();
    }

    if (autograd::any_requires_grad({&x, &weight, &bias})) {
        Tensor<T, D> xs = x.detach(), ws = weight.defined() ? weight.detach() : Tensor<T, D>();
        bool need_x = x.requires_grad();
        bool need_w = weight.defined() && weight.requires_grad();
        bool need_b = bias.defined() && bias.requires_grad();
        autograd::record(y, "batch_norm2d", {&x, &weight, &bias}, [=](const Tensor<T, D>& dy) {
            Tensor<T, D> dx, dw, db;
            if (need_x) dx = Tensor<T, D>::empty(xs.shape());
            if (need_w) dw = Tensor<T, D>::empty(per_channel);
            if (need_b) db = Tensor<T, D>::empty(per_channel);
            Backend<D>::batch_norm_backward(batch, channels, plane, training, xs.data(), dy.data(),
                                            ws.defined() ? ws.data() : nullptr, mean.data(),
                                            invstd.data(), need_x ? dx.data() : nullptr,
                                            need_w ? dw.data() : nullptr,
                                            need_b ? db.data() : nullptr);
            return std::vector<Tensor<T, D>>{dx, dw, db};
        });
    }
    return y;
}

}  // namespace recolor
