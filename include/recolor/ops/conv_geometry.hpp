// The geometry of one 2-D convolution, shared by both backends. A transposed convolution is
// described by the geometry of the convolution it transposes: its output is that
// convolution's input ("image") and its input is that convolution's output ("columns" side).
#pragma once

#include "recolor/core/error.hpp"

namespace recolor {

struct ConvGeometry {
    long batch = 1;
    long in_channels = 0, in_height = 0, in_width = 0;     // the convolution's input
    long out_channels = 0, out_height = 0, out_width = 0;  // the convolution's output
    long kernel = 1, stride = 1, padding = 0;

    long in_plane() const { return in_height * in_width; }
    long out_plane() const { return out_height * out_width; }
    // Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    long patch() const { return in_channels * kernel * kernel; }
    double flops() const { return 2.0 * batch * out_channels * out_plane() * patch(); }
};

// Output size of a convolution along one axis.
inline long conv_output_size(long input, long kernel, long stride, long padding) {
    return (input + 2 * padding - kernel) / stride + 1;
}

// Output size of a transposed convolution along one axis (no output padding).
inline long conv_transpose_output_size(long input, long kernel, long stride, long padding) {
    return (input - 1) * stride - 2 * padding + kernel;
}

}  // namespace recolor
