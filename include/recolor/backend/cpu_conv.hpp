// Convolutions on the CPU as im2col + GEMM. For each image the input is unfolded into a
// (C_in k k) x (H_out W_out) matrix, so that the convolution is one matrix product with the
// (C_out) x (C_in k k) weights; backward-data multiplies by the transposed weights and folds
// the columns back (col2im, which accumulates overlapping patches); backward-filter multiplies
// the output gradient by the transposed columns. Where the output plane is small, the images
// of a batch stand side by side in one wider product (images_per_product). A transposed
// convolution reuses these three with its roles swapped (see ops/conv_geometry.hpp).
#pragma once

#include <algorithm>
#include <vector>

#include "recolor/backend/cpu_blas.hpp"
#include "recolor/backend/cpu_memory.hpp"
#include "recolor/ops/conv_geometry.hpp"

namespace recolor::cpu {

// Unfolds one image (C, H, W) into columns (C k k rows, H_out W_out of them, rows ld apart);
// padding reads as zero.
template <typename T>
void im2col(const ConvGeometry& g, const T* image, T* columns, long ld) {
    const long k = g.kernel, plane = g.out_plane();
#pragma omp parallel for if (g.patch() * plane > parallel_threshold)
    for (long row = 0; row < g.patch(); ++row) {
        const long c = row / (k * k), ky = (row / k) % k, kx = row % k;
        const T* channel = image + c * g.in_plane();
        T* out = columns + row * ld;
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

// Folds columns (rows ld apart) back into one image, adding overlapping contributions; image is
// overwritten.
template <typename T>
void col2im(const ConvGeometry& g, const T* columns, long ld, T* image) {
    const long k = g.kernel, plane = g.out_plane();
    // Parallel over channels: each thread owns whole channel planes of the image.
#pragma omp parallel for if (g.patch() * plane > parallel_threshold)
    for (long c = 0; c < g.in_channels; ++c) {
        T* channel = image + c * g.in_plane();
        for (long i = 0; i < g.in_plane(); ++i) channel[i] = T(0);
        for (long ky = 0; ky < k; ++ky) {
            for (long kx = 0; kx < k; ++kx) {
                const T* in = columns + ((c * k + ky) * k + kx) * ld;
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

// Between a batch's output-side tensor, images (count, channels, plane), and the matrix
// (channels, count plane) that one product over the whole group of images reads or writes.
template <typename T>
void images_to_matrix(long count, long channels, long plane, const T* images, T* matrix) {
#pragma omp parallel for collapse(2) if (count * channels * plane > parallel_threshold)
    for (long n = 0; n < count; ++n)
        for (long c = 0; c < channels; ++c)
            std::copy_n(images + (n * channels + c) * plane, plane,
                        matrix + c * count * plane + n * plane);
}

template <typename T>
void matrix_to_images(long count, long channels, long plane, const T* matrix, T* images) {
#pragma omp parallel for collapse(2) if (count * channels * plane > parallel_threshold)
    for (long n = 0; n < count; ++n)
        for (long c = 0; c < channels; ++c)
            std::copy_n(matrix + c * count * plane + n * plane, plane,
                        images + (n * channels + c) * plane);
}

template <typename T>
std::vector<T>& conv_workspace(size_t n) {
    thread_local std::vector<T> workspace;
    if (workspace.size() < n) workspace.resize(n);
    return workspace;
}

template <typename T>
std::vector<T>& conv_staging(size_t n) {
    thread_local std::vector<T> staging;
    if (staging.size() < n) staging.resize(n);
    return staging;
}

// How many images one matrix product covers. A layer whose output plane is large makes a wide
// enough product from one image, written straight into place. A small plane (the deep layers
// of the U-Net: 8 x 8 down to 1 x 1) makes a thin one, down to a matrix-vector product that
// reads every weight once per image; there the images of a batch are put side by side, up to
// a workspace of about 64 MiB, so that each weight is read once per group.
inline long images_per_product(const ConvGeometry& g) {
    constexpr long wide_plane = 1024;
    constexpr long workspace_elements = 16L << 20;
    if (g.out_plane() >= wide_plane || g.batch == 1) return 1;
    const long fit = workspace_elements / (g.patch() * g.out_plane());
    return std::clamp(fit, 1L, g.batch);
}

// The columns of images n0 .. n0 + count - 1 side by side: one (C_in k k) x (count H_out W_out)
// matrix, each image's columns a block of H_out W_out.
template <typename T>
void unfold_group(const ConvGeometry& g, const T* x, long n0, long count, T* columns) {
    const long plane = g.out_plane();
    for (long n = 0; n < count; ++n)
        im2col(g, x + (n0 + n) * g.in_channels * g.in_plane(), columns + n * plane, count * plane);
}

struct ConvOps {
    // y (N, C_out, H_out, W_out) = conv(x (N, C_in, H, W), w (C_out, C_in, k, k)).
    template <typename T>
    static void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
        const long group = images_per_product(g), plane = g.out_plane();
        T* columns = conv_workspace<T>(g.patch() * plane * group).data();
        if (group == 1) {
            for (long n = 0; n < g.batch; ++n) {
                im2col(g, x + n * g.in_channels * g.in_plane(), columns, plane);
                gemm<T>(false, false, g.out_channels, plane, g.patch(), T(1), w, columns, T(0),
                        y + n * g.out_channels * plane);
            }
            return;
        }
        T* product = conv_staging<T>(g.out_channels * plane * group).data();
        for (long n0 = 0; n0 < g.batch; n0 += group) {
            const long count = std::min(group, g.batch - n0), width = count * plane;
            unfold_group(g, x, n0, count, columns);
            gemm<T>(false, false, g.out_channels, width, g.patch(), T(1), w, columns, T(0),
                    product);
            matrix_to_images(count, g.out_channels, plane, product,
                             y + n0 * g.out_channels * plane);
        }
    }
    // dx = conv2d's gradient with respect to its input (overwritten).
    template <typename T>
    static void conv2d_backward_data(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
        const long group = images_per_product(g), plane = g.out_plane();
        T* columns = conv_workspace<T>(g.patch() * plane * group).data();
        if (group == 1) {
            for (long n = 0; n < g.batch; ++n) {
                gemm<T>(true, false, g.patch(), plane, g.out_channels, T(1), w,
                        dy + n * g.out_channels * plane, T(0), columns);
                col2im(g, columns, plane, dx + n * g.in_channels * g.in_plane());
            }
            return;
        }
        T* gathered = conv_staging<T>(g.out_channels * plane * group).data();
        for (long n0 = 0; n0 < g.batch; n0 += group) {
            const long count = std::min(group, g.batch - n0), width = count * plane;
            images_to_matrix(count, g.out_channels, plane, dy + n0 * g.out_channels * plane,
                             gathered);
            gemm<T>(true, false, g.patch(), width, g.out_channels, T(1), w, gathered, T(0),
                    columns);
            for (long n = 0; n < count; ++n)
                col2im(g, columns + n * plane, width, dx + (n0 + n) * g.in_channels * g.in_plane());
        }
    }
    // dw = conv2d's gradient with respect to its weights (overwritten).
    template <typename T>
    static void conv2d_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
        const long group = images_per_product(g), plane = g.out_plane();
        T* columns = conv_workspace<T>(g.patch() * plane * group).data();
        if (group == 1) {
            for (long n = 0; n < g.batch; ++n) {
                im2col(g, x + n * g.in_channels * g.in_plane(), columns, plane);
                gemm<T>(false, true, g.out_channels, g.patch(), plane, T(1),
                        dy + n * g.out_channels * plane, columns, n == 0 ? T(0) : T(1), dw);
            }
            return;
        }
        T* gathered = conv_staging<T>(g.out_channels * plane * group).data();
        for (long n0 = 0; n0 < g.batch; n0 += group) {
            const long count = std::min(group, g.batch - n0), width = count * plane;
            unfold_group(g, x, n0, count, columns);
            images_to_matrix(count, g.out_channels, plane, dy + n0 * g.out_channels * plane,
                             gathered);
            gemm<T>(false, true, g.out_channels, g.patch(), width, T(1), gathered, columns,
                    n0 == 0 ? T(0) : T(1), dw);
        }
    }
};

}  // namespace recolor::cpu
