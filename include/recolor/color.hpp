// The colour science behind the anomaly score: sRGB -> CIELAB (srgb_to_lab), CIEDE2000
// (ciede2000) and the per-pixel ΔE00 map with its per-image sums (delta_e_map). Plain C++20:
// compiles with g++ alone. The CUDA twin of delta_e_map is kernels/delta_e.cuh.
#pragma once

#include "recolor/color/ciede2000.hpp"
#include "recolor/color/delta_e_map.hpp"
#include "recolor/color/lab.hpp"
#include "recolor/color/math.hpp"
