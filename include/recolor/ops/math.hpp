// The per-element math of every element-wise operation, as small function objects that the CPU
// loops and the CUDA kernels both call. Forward functors take x; backward functors take the
// saved value (x or y, as named) and the output gradient g.
#pragma once

#include <cmath>
#include <cstdint>

#include "recolor/core/host_device.hpp"

namespace recolor::math {

// Unqualified calls below pick the float overloads for float on the host too (the C functions
// would compute in double); nvcc provides the same names in device code.
using std::exp;
using std::log1p;
using std::sqrt;
using std::tanh;

template <typename T>
RECOLOR_HOST_DEVICE T stable_sigmoid(T x) {
    if (x >= T(0)) return T(1) / (T(1) + exp(-x));
    T e = exp(x);
    return e / (T(1) + e);
}

struct Relu {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x) const {
        return x > T(0) ? x : T(0);
    }
};
struct ReluBackward {  // (x, g)
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x, T g) const {
        return x > T(0) ? g : T(0);
    }
};

struct LeakyRelu {
    float slope;
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x) const {
        return x > T(0) ? x : T(slope) * x;
    }
};
struct LeakyReluBackward {  // (x, g)
    float slope;
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x, T g) const {
        return x > T(0) ? g : T(slope) * g;
    }
};

struct Tanh {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x) const {
        return tanh(x);
    }
};
struct TanhBackward {  // (y, g)
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T y, T g) const {
        return g * (T(1) - y * y);
    }
};

struct Sigmoid {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x) const {
        return stable_sigmoid(x);
    }
};
struct SigmoidBackward {  // (y, g)
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T y, T g) const {
        return g * y * (T(1) - y);
    }
};

struct Multiply {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T a, T b) const {
        return a * b;
    }
};

// Losses, per element; the mean's 1/n is applied by the caller.
struct AbsDifference {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T a, T b) const {
        return a > b ? a - b : b - a;
    }
};
struct AbsDifferenceBackward {  // d|a - b| / da
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T a, T b) const {
        return a > b ? T(1) : (a < b ? T(-1) : T(0));
    }
};
struct SquaredDifference {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T a, T b) const {
        return (a - b) * (a - b);
    }
};
struct SquaredDifferenceBackward {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T a, T b) const {
        return T(2) * (a - b);
    }
};
// Binary cross-entropy on a logit x against target z, without overflow for any |x|:
// max(x, 0) - x z + log(1 + exp(-|x|)).
struct BceWithLogits {
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x, T z) const {
        T ax = x > T(0) ? x : -x;
        return (x > T(0) ? x : T(0)) - x * z + log1p(exp(-ax));
    }
};
struct BceWithLogitsBackward {  // d/dx = sigmoid(x) - z
    template <typename T>
    RECOLOR_HOST_DEVICE T operator()(T x, T z) const {
        return stable_sigmoid(x) - z;
    }
};

// Adam with PyTorch's semantics for one element (L2 weight decay folded into the gradient,
// eps added after the square root of the bias-corrected second moment). 1 - beta comes in
// computed in double, as PyTorch passes it (1 - 0.999f in float is 1.3e-5 relative off).
struct AdamStep {
    float beta1, beta2, eps, weight_decay;
    float one_minus_beta1, one_minus_beta2;
    double step_size;              // lr / (1 - beta1^t), computed in double as PyTorch does
    double bias_correction2_sqrt;  // sqrt(1 - beta2^t)
    template <typename T>
    RECOLOR_HOST_DEVICE void operator()(T& p, T g, T& m, T& v) const {
        if (weight_decay != 0.0f) g += T(weight_decay) * p;
        m = m * T(beta1) + g * T(one_minus_beta1);
        v = v * T(beta2) + g * g * T(one_minus_beta2);
        T denom = sqrt(v) / T(bias_correction2_sqrt) + T(eps);
        p -= T(step_size) * (m / denom);
    }
};

}  // namespace recolor::math
