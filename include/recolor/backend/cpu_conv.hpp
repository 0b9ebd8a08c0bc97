// Convolutions on the CPU as im2col + GEMM. For each image the input is unfolded into a
// (C_in k k) x (H_out W_out) matrix, so that the convolution is one matrix product with the
// (C_out) x (C_in k k) weights; backward-data multiplies by the transposed weights and folds
// the columns back (col2im, which accumulates overlapping patches); backward-filter multiplies
// the output gradient by the transposed columns. A transposed convolution reuses these three
// with its roles swapped (see ops/conv_geometry.hpp).
#pragma once

#include <vector>

#include "recolor/backend/cpu_blas.hpp"
#include "recolor/backend/cpu_memory.hpp"
#include "recolor/ops/conv_geometry.hpp"

namespace recolor::cpu {

// Unfolds one image (C, H, W) into columns (C k k, H_out W_out); padding reads as zero.
template <typename T>
void im2col(const ConvGeometry& g, const T* image, T* columns) {
    const long k = g.kernel, plane = g.out_plane();
#pragma omp parallel for if (g.patch() * plane > parallel_threshold)
    for (long row = 0; row < g.patch(); ++row) {
        const long c = row / (k * k), ky = (row / k) % k, kx = row % k;
        const T* channel = image + c * g.in_plane();
        T* out = columns + row * plane;
        for (long oy = 0; oy < g.out_height; ++oy) {
            const long iy = oy * g.stride - g.padding + ky;
            T* out_row = out + oy * g.out_width;
            if (iy < 0 || iy >= g.in_height) {
                for (long ox = 0; ox < g.out_width; ++ox) out_row[ox] = T(0);
                continue;
            }
            const T* in_row = channel + iy * g.in_width;
            for (long ox = 0; ox < g.out_width; ++ox) {
                const long ix = ox * g.stride - g.padding + kx;
                out_row[ox] = (ix >= 0 && ix < g.in_width) ? in_row[ix] : T(0);
            }
        }
    }
}

// Folds columns back into one image, adding overlapping contributions; image is overwritten.
template <typename T>
void col2im(const ConvGeometry& g, const T* columns, T* image) {
    const long k = g.kernel, plane = g.out_plane();
    // Parallel over channels: each thread owns whole channel planes of the image.
#pragma omp parallel for if (g.patch() * plane > parallel_threshold)
    for (long c = 0; c < g.in_channels; ++c) {
        T* channel = image + c * g.in_plane();
        for (long i = 0; i < g.in_plane(); ++i) channel[i] = T(0);
        for (long ky = 0; ky < k; ++ky) {
            for (long kx = 0; kx < k; ++kx) {
                const T* in = columns + ((c * k + ky) * k + kx) * plane;
                for (long oy = 0; oy < g.out_height; ++oy) {
                    const long iy = oy * g.stride - g.padding + ky;
                    if (iy < 0 || iy >= g.in_height) continue;
                    T* out_row = channel + iy * g.in_width;
                    const T* in_row = in + oy * g.out_width;
                    for (long ox = 0; ox < g.out_width; ++ox) {
                        const long ix = ox * g.stride - g.padding + kx;
                        if (ix >= 0 && ix < g.in_width) out_row[ix] += in_row[ox];
                    }
                }
            }
        }
    }
}

template <typename T>
std::vector<T>& conv_workspace(size_t n) {
    thread_local std::vector<T> workspace;
    if (workspace.size() < n) workspace.resize(n);
    return workspace;
}

struct ConvOps {
    // y (N, C_out, H_out, W_out) = conv(x (N, C_in, H, W), w (C_out, C_in, k, k)).
    template <typename T>
    static void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
        T* columns = conv_workspace<T>(g.patch() * g.out_plane()).data();
        for (long n = 0; n < g.batch; ++n) {
            im2col(g, x + n * g.in_channels * g.in_plane(), columns);
            gemm<T>(false, false, g.out_channels, g.out_plane(), g.patch(), T(1), w, columns, T(0),
                    y + n * g.out_channels * g.out_plane());
        }
    }
    // dx = conv2d's gradient with respect to its input (overwritten).
    template <typename T>
    static void conv2d_backward_data(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
        T* columns = conv_workspace<T>(g.patch() * g.out_plane()).data();
        for (long n = 0; n < g.batch; ++n) {
            gemm<T>(true, false, g.patch(), g.out_plane(), g.out_channels, T(1), w,
                    dy + n * g.out_channels * g.out_plane(), T(0), columns);
            col2im(g, columns, dx + n * g.in_channels * g.in_plane());
        }
    }
    // dw = conv2d's gradient with respect to its weights (overwritten).
    template <typename T>
    static void conv2d_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
        T* columns = conv_workspace<T>(g.patch() * g.out_plane()).data();
        for (long n = 0; n < g.batch; ++n) {
            im2col(g, x + n * g.in_channels * g.in_plane(), columns);
            gemm<T>(false, true, g.out_channels, g.patch(), g.out_plane(), T(1),
                    dy + n * g.out_channels * g.out_plane(), columns, n == 0 ? T(0) : T(1), dw);
        }
    }
};

}  // namespace recolor::cpu
