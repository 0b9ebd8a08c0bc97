// Batch normalisation on CUDA with hand-written kernels (kernels/batch_norm.cuh) rather than
// cuDNN's batch-norm calls, because the CPU's contract is easier to keep exactly by hand:
// weight, bias and the running statistics may be null, eval mode must still return invstd,
// backward may be asked for any subset of dx, dweight and dbias, and eval-mode backward treats
// the statistics as constants, which cuDNN's backward does not offer. The statistics are the
// CPU's (see the kernel header). Same signatures as cpu::BatchNormOps.
#pragma once

#include "batch_norm.cuh"
#include "recolor/backend/cuda_launch.hpp"

namespace recolor::cuda {

struct BatchNormOps {
    // Training: batch statistics; saves mean and 1/sqrt(var + eps); moves the running
    // statistics (when given) by `momentum`, the variance by its unbiased estimate.
    template <typename T>
    static void batch_norm_forward_train(long batch, long channels, long plane, const T* x,
                                         const T* weight, const T* bias, T* y, T* saved_mean,
                                         T* saved_invstd, T* running_mean, T* running_var,
                                         double momentum, double eps) {
        if (channels <= 0) return;
        const long count = batch * plane;
        channel_reduce<1>(batch, channels, plane, kernels::BatchNormSum<T>{x},
                          kernels::BatchNormStoreMean<T>{count, saved_mean});
        channel_reduce<1>(
            batch, channels, plane, kernels::BatchNormSquaredDeviation<T>{x, saved_mean},
            kernels::BatchNormStoreVariance<T>{count, momentum, eps, saved_mean, saved_invstd,
                                               running_mean, running_var});
        channel_rows(batch, channels, plane,
                     kernels::BatchNormNormalize<T>{x, weight, bias, saved_mean, saved_invstd, y});
    }

    // Inference: the running statistics; saved_invstd receives 1/sqrt(running_var + eps).
    template <typename T>
    static void batch_norm_forward_eval(long batch, long channels, long plane, const T* x,
                                        const T* weight, const T* bias, const T* running_mean,
                                        const T* running_var, T* y, T* saved_invstd, double eps) {
        if (channels <= 0) return;
        channel_map(channels, kernels::BatchNormRunningInvstd<T>{running_var, eps, saved_invstd});
        channel_rows(
            batch, channels, plane,
            kernels::BatchNormEvalNormalize<T>{x, weight, bias, running_mean, saved_invstd, y});
    }

    // Backward; dx, grad_weight and grad_bias may each be null (not wanted).
    template <typename T>
    static void batch_norm_backward(long batch, long channels, long plane, bool training,
                                    const T* x, const T* dy, const T* weight, const T* mean,
                                    const T* invstd, T* dx, T* grad_weight, T* grad_bias) {
        if (channels <= 0) return;
        Scratch<T> stats(static_cast<size_t>(2 * channels));
        if ((training && dx) || grad_weight || grad_bias) {
            channel_reduce<2>(batch, channels, plane,
                              kernels::BatchNormBackwardSums<T>{x, dy, mean, invstd},
                              kernels::BatchNormBackwardStats<T>{
                                  batch * plane, channels, grad_weight, grad_bias, stats.get()});
        }
        if (dx) {
            channel_rows(batch, channels, plane,
                         kernels::BatchNormBackwardData<T>{x, dy, weight, mean, invstd, stats.get(),
                                                           channels, training, dx});
        }
    }
};

}  // namespace recolor::cuda
