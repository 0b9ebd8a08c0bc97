// The small pix2pix the detector tests train, and loading its images: shared by the CPU tests
// and the gpu suite, so that both devices train the same model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include <recolor/detector/train.hpp>
#include <recolor/io/dataset.hpp>

namespace recolor::testing {

// 8 channels wide at `size` px; λ 100 and a large learning rate, so a few steps move it.
inline detector::Pix2PixConfig tiny_config(long size = 32, uint64_t seed = 7) {
    detector::Pix2PixConfig c;
    c.image_size = size;
    c.ngf = 8;
    c.ndf = 8;
    c.lambda_l1 = 100;
    c.lr = 1e-3;
    c.seed = seed;
    return c;
}

inline std::vector<detector::TrainingImage> load_training(
    const std::vector<std::filesystem::path>& files, int size) {
    io::Dataset data(files, {size, size});
    std::vector<detector::TrainingImage> out;
    for (const auto& s : data.samples()) out.push_back({s.gray, s.rgb});
    return out;
}

}  // namespace recolor::testing
