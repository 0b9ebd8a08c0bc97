// The detector's input and output: images (stb), the image sets it trains and tests on, and
// checkpoints in the safetensors format. Needs the recolor::io CMake target (stb, nlohmann_json).
#pragma once

#include "recolor/io/dataset.hpp"
#include "recolor/io/image.hpp"
#include "recolor/io/safetensors.hpp"
