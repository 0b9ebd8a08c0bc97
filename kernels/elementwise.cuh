// Element-wise kernels: fill, axpby, and the maps that apply a functor from ops/math.hpp to
// every element, so that the CPU loop and the kernel share one definition of the math.
#pragma once

#include "grid.cuh"

namespace recolor::cuda::kernels {

template <typename T>
__global__ void fill_kernel(long n, T value, T* y) {
    for (long i = grid_start(); i < n; i += grid_stride()) y[i] = value;
}

// y = alpha * x + beta * z
template <typename T>
__global__ void axpby_kernel(long n, T alpha, const T* x, T beta, const T* z, T* y) {
    for (long i = grid_start(); i < n; i += grid_stride()) y[i] = alpha * x[i] + beta * z[i];
}

// y = f(x)
template <typename T, typename F>
__global__ void map_kernel(long n, const T* x, T* y, F f) {
    for (long i = grid_start(); i < n; i += grid_stride()) y[i] = f(x[i]);
}

// y = f(a, b)
template <typename T, typename F>
__global__ void map2_kernel(long n, const T* a, const T* b, T* y, F f) {
    for (long i = grid_start(); i < n; i += grid_stride()) y[i] = f(a[i], b[i]);
}

// y = (g[0] * scale) f(a, b): the backward of a loss, g being the loss's one-element gradient,
// read on the device so that the host never waits for it.
template <typename T, typename F>
__global__ void map2_scaled_kernel(long n, const T* a, const T* b, F f, const T* g, double scale,
                                   T* y) {
    const T s = static_cast<T>(g[0] * scale);
    for (long i = grid_start(); i < n; i += grid_stride()) y[i] = s * f(a[i], b[i]);
}

// y = g[0] * scale: the backward of sum and mean.
template <typename T>
__global__ void broadcast_scalar_kernel(long n, const T* g, double scale, T* y) {
    const T s = static_cast<T>(g[0] * scale);
    for (long i = grid_start(); i < n; i += grid_stride()) y[i] = s;
}

}  // namespace recolor::cuda::kernels
