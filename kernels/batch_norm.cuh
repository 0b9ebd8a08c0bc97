// Batch normalisation as functors for the channel kernels (channel.cuh, reduce.cuh). The
// arithmetic is the CPU's (backend/cpu_batch_norm.hpp) step for step, in the same precision:
// the mean is summed in double and rounded to T, the variance is summed in double around that
// rounded mean (so a constant channel gives exactly zero), the running variance takes the
// unbiased estimate, and the saved statistics are the mean and 1 / sqrt(var + eps). Only the
// order of the additions differs.
//
// Training forward is three passes over x (sum, squared deviations, normalise), as on the CPU.
// Backward is two: the sums of dy and dy * xhat per channel, then dx.
#pragma once

#include "channel.cuh"

namespace recolor::cuda::kernels {

// Forward, pass 1: sum of x.
template <typename T>
struct BatchNormSum {
    const T* x;
    __device__ void operator()(long index, long, Sums<1>& sums) const {
        sums.v[0] += static_cast<double>(x[index]);
    }
};
template <typename T>
struct BatchNormStoreMean {
    long count;
    T* mean;
    __device__ void operator()(long c, const Sums<1>& totals) const {
        mean[c] = static_cast<T>(totals.v[0] / count);
    }
};

// Forward, pass 2: squared deviations from the rounded mean.
template <typename T>
struct BatchNormSquaredDeviation {
    const T* x;
    const T* mean;
    __device__ void operator()(long index, long c, Sums<1>& sums) const {
        const double d = static_cast<double>(x[index] - mean[c]);
        sums.v[0] += d * d;
    }
};
template <typename T>
struct BatchNormStoreVariance {
    long count;
    double momentum, eps;
    const T* mean;
    T* invstd;
    T* running_mean;  // both null when there are no running statistics
    T* running_var;
    __device__ void operator()(long c, const Sums<1>& totals) const {
        const double squares = totals.v[0];
        const double var = squares / count;
        invstd[c] = static_cast<T>(1.0 / sqrt(var + eps));
        if (running_mean && running_var) {
            const double unbiased = count > 1 ? squares / (count - 1) : var;
            running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean[c]);
            running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * unbiased);
        }
    }
};

// Forward, pass 3: y = (x - mean) * weight * invstd + bias; weight and bias may be null.
template <typename T>
struct BatchNormNormalize {
    const T* x;
    const T* weight;
    const T* bias;
    const T* mean;
    const T* invstd;
    T* y;
    __device__ void operator()(long index, long c) const {
        const T scale = weight ? weight[c] * invstd[c] : invstd[c];
        const T shift = bias ? bias[c] : T(0);
        y[index] = (x[index] - mean[c]) * scale + shift;
    }
};

// Eval: invstd from the running variance, then y = x * scale + shift.
template <typename T>
struct BatchNormRunningInvstd {
    const T* running_var;
    double eps;
    T* invstd;
    __device__ void operator()(long c) const {
        invstd[c] = static_cast<T>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
    }
};
template <typename T>
struct BatchNormEvalNormalize {
    const T* x;
    const T* weight;
    const T* bias;
    const T* running_mean;
    const T* invstd;
    T* y;
    __device__ void operator()(long index, long c) const {
        const T scale = weight ? weight[c] * invstd[c] : invstd[c];
        const T shift = (bias ? bias[c] : T(0)) - running_mean[c] * scale;
        y[index] = x[index] * scale + shift;
    }
};

// Backward, pass 1: sum(dy) and sum(dy * xhat) per channel.
template <typename T>
struct BatchNormBackwardSums {
    const T* x;
    const T* dy;
    const T* mean;
    const T* invstd;
    __device__ void operator()(long index, long c, Sums<2>& sums) const {
        const T g = dy[index];
        sums.v[0] += g;
        sums.v[1] += static_cast<double>(g) * ((x[index] - mean[c]) * invstd[c]);
    }
};
// Stores the parameter gradients (either may be null) and, for dx, the two means:
// stats[c] = mean(dy), stats[channels + c] = mean(dy * xhat).
template <typename T>
struct BatchNormBackwardStats {
    long count, channels;
    T* grad_weight;
    T* grad_bias;
    T* stats;
    __device__ void operator()(long c, const Sums<2>& totals) const {
        if (grad_weight) grad_weight[c] = static_cast<T>(totals.v[1]);
        if (grad_bias) grad_bias[c] = static_cast<T>(totals.v[0]);
        stats[c] = static_cast<T>(totals.v[0] / count);
        stats[channels + c] = static_cast<T>(totals.v[1] / count);
    }
};

// Backward, pass 2. Training: dx = w invstd (dy - mean(dy) - xhat mean(dy xhat)); eval (the
// statistics are constants): dx = w invstd dy, and stats is not read.
template <typename T>
struct BatchNormBackwardData {
    const T* x;
    const T* dy;
    const T* weight;
    const T* mean;
    const T* invstd;
    const T* stats;
    long channels;
    bool training;
    T* dx;
    __device__ void operator()(long index, long c) const {
        const T w = weight ? weight[c] : T(1);
        if (training) {
            const T xhat = (x[index] - mean[c]) * invstd[c];
            dx[index] = w * invstd[c] * (dy[index] - stats[c] - xhat * stats[channels + c]);
        } else {
            dx[index] = w * invstd[c] * dy[index];
        }
    }
};

}  // namespace recolor::cuda::kernels
