// Training presets. `paper` is the published setup exactly. `quick` is sized for a 2-core CPU:
// half the resolution and width, a budget of training steps rather than epochs (so a larger
// set of healthy images does not multiply the time), and lambda 100, pix2pix's own default,
// because at this size lambda 10 lets the discriminator win and the recolourings turn to
// texture. docs/results.md has the measurements behind each choice.
#pragma once

#include <algorithm>
#include <string>

#include "recolor/core/error.hpp"
#include "recolor/detector/pix2pix.hpp"

namespace recolor::detector {

struct Preset {
    Pix2PixConfig model;
    long epochs = 150;  // used when steps is 0
    long steps = 0;     // a training budget in steps: epochs = steps / training images

    // Epochs for a training set of `images` images.
    long epochs_for(long images) const {
        if (steps <= 0 || images <= 0) return epochs;
        return std::max(1L, (steps + images / 2) / images);
    }
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
        // 3800 steps: 50 epochs of the paper's 76 training images, 17 of strawberry's 228.
        p.steps = 3800;
        return p;
    }
    throw Error("unknown preset '" + name + "' (expected 'quick' or 'paper')");
}

}  // namespace recolor::detector
