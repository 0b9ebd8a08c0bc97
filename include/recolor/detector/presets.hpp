// Training presets. `paper` is the published setup exactly. `quick` is sized for a 2-core CPU:
// half the resolution and width, and lambda 100, pix2pix's own default, because at this size
// lambda 10 lets the discriminator win and the recolourings turn to texture (see
// docs/results.md for the measurements behind each choice).
#pragma once

#include <string>

#include "recolor/core/error.hpp"
#include "recolor/detector/pix2pix.hpp"

namespace recolor::detector {

struct Preset {
    Pix2PixConfig model;
    long epochs = 150;
};

inline Preset preset(const std::string& name) {
    Preset p;
    if (name == "paper") {
        return p;  // 256 px, ngf = ndf = 64, lambda 10, lr 1.5e-4, betas (0.5, 0.999), 150 epochs
    }
    if (name == "quick") {
        p.model.image_size = 128;
        p.model.ngf = 32;
        p.model.ndf = 32;
        p.model.lambda_l1 = 100;
        p.epochs = 30;
        return p;
    }
    throw Error("unknown preset '" + name + "' (expected 'quick' or 'paper')");
}

}  // namespace recolor::detector
