// conv2d and conv_transpose2d with autograd. Both reduce to the backend's three convolution
// primitives (forward, backward-data, backward-filter); bias is a per-channel add.
// Limitation: square kernels, equal stride and padding on both axes, no dilation or groups.
#pragma once

#include "recolor/autograd/engine.hpp"
#include "recolor/ops/conv_geometry.hpp"

namespace recolor {

namespace detail {

template <typename T, typename D>
void check_bias(const char* op, const Tensor<T, D>& bias, long channels) {
    if (bias.defined()) check_shape(op, "bias", Shape{channels}, bias.shape());
}

template <typename T, typename D>
Tensor<T, D> bias_gradient(const ConvGeometry& g, long channels, long plane,
                           const Tensor<T, D>& dy) {
    Tensor<T, D> db = Tensor<T, D>::empty({channels});
    Backend<D>::channel_sum(g.batch, channels, plane, dy.data(), db.data());
    return db;
}

}  // namespace detail

// x (N, C_in, H, W), weight (C_out, C_in, k, k), optional bias (C_out).
template <typename T, typename D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& weight, const Tensor<T, D>& bias,
                    long stride = 1, long padding = 0) {
    check_rank("conv2d", "input", 4, x.shape());
    check_rank("conv2d", "weight", 4, weight.shape());
    RECOLOR_CHECK(weight.dim(2) == weight.dim(3),
                  "conv2d: square kernels only, weight shape is " << shape_string(weight.shape()));
    RECOLOR_CHECK(x.dim(1) == weight.dim(1), "conv2d: input expected "
                                                 << weight.dim(1) << " channels (weight "
                                                 << shape_string(weight.shape())
                                                 << "), found shape " << shape_string(x.shape()));
    RECOLOR_CHECK(stride >= 1 && padding >= 0,
                  "conv2d: stride " << stride << ", padding " << padding);
    ConvGeometry g;
    g.batch = x.dim(0);
    g.in_channels = x.dim(1), g.in_height = x.dim(2), g.in_width = x.dim(3);
    g.out_channels = weight.dim(0), g.kernel = weight.dim(2), g.stride = stride,
    g.padding = padding;
    g.out_height = conv_output_size(g.in_height, g.kernel, stride, padding);
    g.out_width = conv_output_size(g.in_width, g.kernel, stride, padding);
    RECOLOR_CHECK(g.out_height > 0 && g.out_width > 0,
                  "conv2d: input " << shape_string(x.shape()) << " is smaller than kernel "
                                   << g.kernel << " with padding " << padding);
    detail::check_bias("conv2d", bias, g.out_channels);

    Tensor<T, D> y = Tensor<T, D>::empty({g.batch, g.out_channels, g.out_height, g.out_width});
    Backend<D>::conv2d_forward(g, x.data(), weight.data(), y.data());
    if (bias.defined()) {
        Backend<D>::add_channel_bias(g.batch, g.out_channels, g.out_plane(), bias.data(), y.data());
    }
    if (autograd::any_requires_grad({&x, &weight, &bias})) {
        Tensor<T, D> xs = x.detach(), ws = weight.detach();
        bool need_x = x.requires_grad(), need_w = weight.requires_grad();
        bool need_b = bias.defined() && bias.requires_grad();
        autograd::record(y, "conv2d", {&x, &weight, &bias}, [=](const Tensor<T, D>& dy) {
            Tensor<T, D> dx, dw, db;
            if (need_x) {
                dx = Tensor<T, D>::empty(xs.shape());
                Backend<D>::conv2d_backward_data(g, ws.data(), dy.data(), dx.data());
            }
            if (need_w) {
                dw = Tensor<T, D>::empty(ws.shape());
                Backend<D>::conv2d_backward_filter(g, xs.data(), dy.data(), dw.data());
            }
            if (need_b) db = detail::bias_gradient(g, g.out_channels, g.out_plane(), dy);
            return std::vector<Tensor<T, D>>{dx, dw, db};
        });
    }
    return y;
}

// x (N, C_in, H, W), weight (C_in, C_out, k, k) as PyTorch lays it out, optional bias (C_out).
// Output size (H - 1) stride - 2 padding + k.
template <typename T, typename D>
Tensor<T, D> conv_transpose2d(const Tensor<T, D>& x, const Tensor<T, D>& weight,
                              const Tensor<T, D>& bias, long stride = 1, long padding = 0) {
    check_rank("conv_transpose2d", "input", 4, x.shape());
    check_rank("conv_transpose2d", "weight", 4, weight.shape());
    RECOLOR_CHECK(
        weight.dim(2) == weight.dim(3),
        "conv_transpose2d: square kernels only, weight shape is " << shape_string(weight.shape()));
    RECOLOR_CHECK(x.dim(1) == weight.dim(0), "conv_transpose2d: input expected "
                                                 << weight.dim(0) << " channels (weight "
                                                 << shape_string(weight.shape())
                                                 << "), found shape " << shape_string(x.shape()));
    // The geometry of the convolution this transposes: its input is our output.
    ConvGeometry g;
    g.batch = x.dim(0);
    g.out_channels = x.dim(1), g.out_height = x.dim(2), g.out_width = x.dim(3);
    g.in_channels = weight.dim(1), g.kernel = weight.dim(2), g.stride = stride, g.padding = padding;
    g.in_height = conv_transpose_output_size(g.out_height, g.kernel, stride, padding);
    g.in_width = conv_transpose_output_size(g.out_width, g.kernel, stride, padding);
    RECOLOR_CHECK(g.in_height > 0 && g.in_width > 0,
                  "conv_transpose2d: empty output for input " << shape_string(x.shape()));
    detail::check_bias("conv_transpose2d", bias, g.in_channels);

    Tensor<T, D> y = Tensor<T, D>::empty({g.batch, g.in_channels, g.in_height, g.in_width});
    Backend<D>::conv2d_backward_data(g, weight.data(), x.data(), y.data());
    if (bias.defined()) {
        Backend<D>::add_channel_bias(g.batch, g.in_channels, g.in_plane(), bias.data(), y.data());
    }
    if (autograd::any_requires_grad({&x, &weight, &bias})) {
        Tensor<T, D> xs = x.detach(), ws = weight.detach();
        bool need_x = x.requires_grad(), need_w = weight.requires_grad();
        bool need_b = bias.defined() && bias.requires_grad();
        autograd::record(y, "conv_transpose2d", {&x, &weight, &bias}, [=](const Tensor<T, D>& dy) {
            Tensor<T, D> dx, dw, db;
            if (need_x) {
                dx = Tensor<T, D>::empty(xs.shape());
                Backend<D>::conv2d_forward(g, dy.data(), ws.data(), dx.data());
            }
            if (need_w) {
                dw = Tensor<T, D>::empty(ws.shape());
                Backend<D>::conv2d_backward_filter(g, dy.data(), xs.data(), dw.data());
            }
            if (need_b) db = detail::bias_gradient(g, g.in_channels, g.in_plane(), dy);
            return std::vector<Tensor<T, D>>{dx, dw, db};
        });
    }
    return y;
}

}  // namespace recolor
