// Batch normalisation on the CPU, one channel per thread. The variance is computed in two
// passes around a mean that is rounded to T first, so a constant channel gives exactly zero
// variance (a one-pass E[x^2] - E[x]^2 in float goes negative for a map of 1000.1).
#pragma once

#include <cmath>

#include "recolor/backend/cpu_memory.hpp"

namespace recolor::cpu {

struct BatchNormOps {
    // Training: normalises with batch statistics, saves mean and 1/sqrt(var + eps) for backward,
    // and moves the running statistics by `momentum` (running_var takes the unbiased variance).
    template <typename T>
    static void batch_norm_forward_train(long batch, long channels, long plane, const T* x,
                                         const T* weight, const T* bias, T* y, T* saved_mean,
                                         T* saved_invstd, T* running_mean, T* running_var,
                                         double momentum, double eps) {
        const long count = batch * plane;
#pragma omp parallel for if (batch * channels * plane > parallel_threshold)
        for (long c = 0; c < channels; ++c) {
            // Mean.
            double total = 0;
            for (long n = 0; n < batch; ++n) {
                const T* row = x + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) total += row[i];
            }
            const T mean = static_cast<T>(total / count);

            // Variance around the rounded mean.
            double squares = 0;
            for (long n = 0; n < batch; ++n) {
                const T* row = x + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) {
                    const double d = static_cast<double>(row[i] - mean);
                    squares += d * d;
                }
            }
            const double var = squares / count;
            const T invstd = static_cast<T>(1.0 / std::sqrt(var + eps));

            // Normalise and scale.
            const T scale = weight ? weight[c] * invstd : invstd;
            const T shift = bias ? bias[c] : T(0);
            for (long n = 0; n < batch; ++n) {
                const T* in = x + (n * channels + c) * plane;
                T* out = y + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) out[i] = (in[i] - mean) * scale + shift;
            }
            saved_mean[c] = mean;
            saved_invstd[c] = invstd;
            if (running_mean) {
                const double unbiased = count > 1 ? squares / (count - 1) : var;
                running_mean[c] =
                    static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean);
                running_var[c] =
                    static_cast<T>((1 - momentum) * running_var[c] + momentum * unbiased);
            }
        }
    }

    // Inference: normalises with the running statistics.
    template <typename T>
    static void batch_norm_forward_eval(long batch, long channels, long plane, const T* x,
                                        const T* weight, const T* bias, const T* running_mean,
                                        const T* running_var, T* y, T* saved_invstd, double eps) {
#pragma omp parallel for if (batch * channels * plane > parallel_threshold)
        for (long c = 0; c < channels; ++c) {
            const T invstd =
                static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
            const T scale = weight ? weight[c] * invstd : invstd;
            const T shift = (bias ? bias[c] : T(0)) - running_mean[c] * scale;
            for (long n = 0; n < batch; ++n) {
                const T* in = x + (n * channels + c) * plane;
                T* out = y + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) out[i] = in[i] * scale + shift;
            }
            saved_invstd[c] = invstd;
        }
    }

    // Backward. With batch statistics (training) the mean and variance depend on x:
    //   dx = w invstd / M (M dy - sum(dy) - xhat sum(dy xhat));
    // with running statistics (eval) they are constants: dx = w invstd dy.
    template <typename T>
    static void batch_norm_backward(long batch, long channels, long plane, bool training,
                                    const T* x, const T* dy, const T* weight, const T* mean,
                                    const T* invstd, T* dx, T* grad_weight, T* grad_bias) {
        const long count = batch * plane;
#pragma omp parallel for if (batch * channels * plane > parallel_threshold)
        for (long c = 0; c < channels; ++c) {
            double sum_dy = 0, sum_dy_xhat = 0;
            for (long n = 0; n < batch; ++n) {
                const T* in = x + (n * channels + c) * plane;
                const T* g = dy + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) {
                    sum_dy += g[i];
                    sum_dy_xhat += static_cast<double>(g[i]) * ((in[i] - mean[c]) * invstd[c]);
                }
            }
            if (grad_weight) grad_weight[c] = static_cast<T>(sum_dy_xhat);
            if (grad_bias) grad_bias[c] = static_cast<T>(sum_dy);
            if (!dx) continue;
            const T w = weight ? weight[c] : T(1);
            const T mean_dy = static_cast<T>(sum_dy / count);
            const T mean_dy_xhat = static_cast<T>(sum_dy_xhat / count);
            for (long n = 0; n < batch; ++n) {
                const T* in = x + (n * channels + c) * plane;
                const T* g = dy + (n * channels + c) * plane;
                T* out = dx + (n * channels + c) * plane;
                for (long i = 0; i < plane; ++i) {
                    if (training) {
                        const T xhat = (in[i] - mean[c]) * invstd[c];
                        out[i] = w * invstd[c] * (g[i] - mean_dy - xhat * mean_dy_xhat);
                    } else {
                        out[i] = w * invstd[c] * g[i];
                    }
                }
            }
        }
    }
};

}  // namespace recolor::cpu
