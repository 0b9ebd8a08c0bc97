// dropout and concatenation along channels.
#pragma once

#include <cstdint>

#include "recolor/autograd/engine.hpp"
#include "recolor/ops/math.hpp"

namespace recolor {

// In training, zeroes each element with probability p and scales the rest by 1 / (1 - p); the
// mask comes from Philox stream (seed, offset), so the same seed and offset give the same mask
// on every backend. In eval mode it is the identity.
template <typename T, typename D>
Tensor<T, D> dropout(const Tensor<T, D>& x, float p, bool training, uint64_t seed,
                     uint64_t offset) {
    RECOLOR_CHECK(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), found " << p);
    if (!training || p == 0.0f) return x;
    Tensor<T, D> mask = Tensor<T, D>::empty(x.shape());
    Backend<D>::dropout_mask(x.numel(), p, seed, offset, mask.data());
    Tensor<T, D> y = Tensor<T, D>::empty(x.shape());
    Backend<D>::map2(x.numel(), x.data(), mask.data(), y.data(), math::Multiply{});
    if (autograd::any_requires_grad({&x})) {
        autograd::record(y, "dropout", {&x}, [mask](const Tensor<T, D>& g) {
            Tensor<T, D> dx = Tensor<T, D>::empty(g.shape());
            Backend<D>::map2(g.numel(), g.data(), mask.data(), dx.data(), math::Multiply{});
            return std::vector<Tensor<T, D>>{dx};
        });
    }
    return y;
}

// Concatenates a (N, Ca, H, W) and b (N, Cb, H, W) into (N, Ca + Cb, H, W).
template <typename T, typename D>
Tensor<T, D> concat_channels(const Tensor<T, D>& a, const Tensor<T, D>& b) {
    check_rank("concat_channels", "first input", 4, a.shape());
    check_rank("concat_channels", "second input", 4, b.shape());
    RECOLOR_CHECK(a.dim(0) == b.dim(0) && a.dim(2) == b.dim(2) && a.dim(3) == b.dim(3),
                  "concat_channels: inputs differ outside the channel axis: "
                      << shape_string(a.shape()) << " and " << shape_string(b.shape()));
    const long batch = a.dim(0), plane = a.dim(2) * a.dim(3), ca = a.dim(1), cb = b.dim(1);
    Tensor<T, D> y = Tensor<T, D>::empty({batch, ca + cb, a.dim(2), a.dim(3)});
    const long out_stride = (ca + cb) * plane;
    Backend<D>::copy_blocks(batch, ca * plane, a.data(), ca * plane, y.data(), out_stride);
    Backend<D>::copy_blocks(batch, cb * plane, b.data(), cb * plane, y.data() + ca * plane,
                            out_stride);
    if (autograd::any_requires_grad({&a, &b})) {
        Shape sa = a.shape(), sb = b.shape();
        autograd::record(y, "concat_channels", {&a, &b}, [=](const Tensor<T, D>& g) {
            Tensor<T, D> da = Tensor<T, D>::empty(sa), db = Tensor<T, D>::empty(sb);
            Backend<D>::copy_blocks(batch, ca * plane, g.data(), out_stride, da.data(), ca * plane);
            Backend<D>::copy_blocks(batch, cb * plane, g.data() + ca * plane, out_stride, db.data(),
                                    cb * plane);
            return std::vector<Tensor<T, D>>{da, db};
        });
    }
    return y;
}

}  // namespace recolor
