// The training loop: epochs over the healthy images in a seeded order, optional flip and
// resize-crop jitter, progress on the terminal, the loss curves as CSV beside the checkpoint,
// a checkpoint after every epoch, a clean stop (and save) when asked, and a stop with a message
// when a loss turns NaN or infinite. It also watches for the discriminator winning: when its
// loss falls near zero the generator's gradient is mostly adversarial noise and the
// recolourings fill with texture, which ruins the anomaly score.
//
// The model may live on any device; the training images stay on the host, and each step's
// window is cut there and copied to the model's device (on the CPU, no copy is made).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "recolor/detector/checkpoint.hpp"
#include "recolor/detector/pix2pix.hpp"

namespace recolor::detector {

// One training pair at model size, or larger when crop jitter is on.
struct TrainingImage {
    Tensor<float> gray;    // (1, 1, H, W) in [-1, 1]
    Tensor<float> colour;  // (1, 3, H, W) in [-1, 1]
};

struct TrainOptions {
    long epochs = 150;
    bool flip = false;  // mirror each image left-right with probability 1/2
    bool crop = false;  // images are given larger than the model; take a random window
    std::filesystem::path checkpoint;        // written after every epoch (empty: never)
    double discriminator_wins_below = 0.05;  // mean D loss under which training is flagged
    std::function<bool()> should_stop;       // polled after every step (SIGINT, SIGTERM)
    std::ostream* progress = &std::cerr;
};

// What one epoch looked like.
struct EpochSummary {
    long epoch = 0;
    StepLosses mean;
    double seconds = 0;
    bool discriminator_wins = false;
};

struct TrainResult {
    std::vector<EpochSummary> epochs;
    bool stopped = false;  // by should_stop, with the state saved
};

namespace detail {

// A uniform integer in [0, n) from a 64-bit generator, the same on every platform (unlike
// std::uniform_int_distribution, whose algorithm the standard leaves open).
inline uint64_t draw_below(std::mt19937_64& rng, uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rng();
    while (x >= limit);
    return x % n;
}

// The order of one epoch and each image's jitter: a pure function of (seed, epoch), so that a
// resumed run replays it.
struct EpochPlan {
    std::vector<size_t> order;
    std::vector<long> dx, dy;
    std::vector<bool> flip;
};

inline EpochPlan plan_epoch(size_t count, uint64_t seed, long epoch, long slack, bool flip) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    EpochPlan plan;
    plan.order.resize(count);
    for (size_t i = 0; i < count; ++i) plan.order[i] = i;
    for (size_t i = count; i > 1; --i) std::swap(plan.order[i - 1], plan.order[draw_below(rng, i)]);
    for (size_t i = 0; i < count; ++i) {
        plan.dx.push_back(slack > 0 ? static_cast<long>(draw_below(rng, slack + 1)) : 0);
        plan.dy.push_back(slack > 0 ? static_cast<long>(draw_below(rng, slack + 1)) : 0);
        plan.flip.push_back(flip && draw_below(rng, 2) == 1);
    }
    return plan;
}

// A size x size window at (dx, dy) of a (1, C, H, W) tensor, mirrored if asked.
inline Tensor<float> window(const Tensor<float>& image, long size, long dx, long dy, bool mirror) {
    const long channels = image.dim(1), height = image.dim(2), width = image.dim(3);
    if (size == height && size == width && !mirror) return image;
    Tensor<float> out = Tensor<float>::empty({1, channels, size, size});
    for (long c = 0; c < channels; ++c) {
        for (long y = 0; y < size; ++y) {
            const float* in = image.data() + (c * height + y + dy) * width + dx;
            float* row = out.data() + (c * size + y) * size;
            for (long x = 0; x < size; ++x) row[x] = in[mirror ? size - 1 - x : x];
        }
    }
    return out;
}

inline std::string format_duration(double seconds) {
    const long s = static_cast<long>(std::lround(seconds));
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
    return buffer;
}

}  // namespace detail

// The loss curves' file beside a checkpoint: model.safetensors -> model.losses.csv.
inline std::filesystem::path losses_csv_path(const std::filesystem::path& checkpoint) {
    std::filesystem::path p = checkpoint;
    return p.replace_extension(".losses.csv");
}

// Drops the rows of a loss file after `step`: a run killed after writing them but before its
// checkpoint resumes from that checkpoint, and would otherwise log those steps twice.
inline void keep_losses_through(const std::filesystem::path& path, long step) {
    std::ifstream in(path);
    std::string line, kept;
    for (bool header = true; std::getline(in, line); header = false) {
        const size_t comma = line.find(',');
        if (!header && comma != std::string::npos) {
            const std::string field = line.substr(comma + 1, line.find(',', comma + 1) - comma - 1);
            char* end = nullptr;
            const long row_step = std::strtol(field.c_str(), &end, 10);
            if (end == field.c_str() || row_step > step) break;
        }
        kept += line + "\n";
    }
    in.close();
    std::ofstream(path, std::ios::trunc) << kept;
}

// Trains `model` from `state` until options.epochs epochs are complete.
template <typename D>
TrainResult train(Pix2Pix<D>& model, const std::vector<TrainingImage>& images,
                  const TrainOptions& options, TrainState& state) {
    RECOLOR_CHECK(!images.empty(), "train: no training images");
    const long size = model.config.image_size;
    const long slack = images[0].gray.dim(2) - size;
    RECOLOR_CHECK(
        slack >= 0 && (options.crop || slack == 0),
        "train: images are " << images[0].gray.dim(2) << " px for a " << size << " px model");
    // A run goes on with the augmentation it was started with: flips change each epoch's plan
    // and crops the images' size, so a resume without them would be another run.
    if (state.step == 0 || !state.augmentation_known) {
        state.flip = options.flip, state.crop = options.crop, state.augmentation_known = true;
    }
    RECOLOR_CHECK(state.flip == options.flip && state.crop == options.crop,
                  "train: the run was started with flip "
                      << (state.flip ? "on" : "off") << " and crop " << (state.crop ? "on" : "off")
                      << "; resume it with the same");
    const long count = static_cast<long>(images.size());
    TrainResult result;

    // The loss curves, one row per step (appended to when resuming).
    std::ofstream csv;
    if (!options.checkpoint.empty()) {
        const auto path = losses_csv_path(options.checkpoint);
        const bool fresh = state.step == 0 || !std::filesystem::exists(path);
        if (!fresh) keep_losses_through(path, state.step);
        csv.open(path, fresh ? std::ios::trunc : std::ios::app);
        RECOLOR_CHECK(csv, "train: cannot write '" << path.string() << "'");
        if (fresh) csv << "epoch,step,d_real,d_fake,g_gan,g_l1\n";
    }

    const long total_steps = options.epochs * count;
    while (state.epoch < options.epochs) {
        const auto epoch_start = std::chrono::steady_clock::now();
        detail::EpochPlan plan =
            detail::plan_epoch(images.size(), model.config.seed, state.epoch, slack, options.flip);
        EpochSummary summary;
        summary.epoch = state.epoch + 1;
        long steps_in_summary = 0;
        for (; state.position < count; ++state.position) {
            // Step.
            const size_t i = plan.order[state.position];
            const TrainingImage& image = images[i];
            Tensor<float> gray =
                detail::window(image.gray, size, plan.dx[i], plan.dy[i], plan.flip[i]);
            Tensor<float> colour =
                detail::window(image.colour, size, plan.dx[i], plan.dy[i], plan.flip[i]);
            StepLosses losses = model.train_step(gray.template to<D>(), colour.template to<D>());
            ++state.step;

            // Check: a NaN or infinite loss ends training; the last checkpoint stays as it was.
            for (double v : {losses.d_real, losses.d_fake, losses.g_gan, losses.g_l1}) {
                RECOLOR_CHECK(std::isfinite(v), "train: loss became "
                                                    << v << " at step " << state.step << " (epoch "
                                                    << state.epoch + 1
                                                    << "); the last checkpoint is kept");
            }

            // Record.
            if (csv) {
                csv << state.epoch + 1 << ',' << state.step << ',' << losses.d_real << ','
                    << losses.d_fake << ',' << losses.g_gan << ',' << losses.g_l1 << '\n';
            }
            summary.mean.d_real += losses.d_real;
            summary.mean.d_fake += losses.d_fake;
            summary.mean.g_gan += losses.g_gan;
            summary.mean.g_l1 += losses.g_l1;
            ++steps_in_summary;

            if (options.should_stop && options.should_stop()) {
                ++state.position;
                if (state.position == count) state.position = 0, ++state.epoch;
                if (!options.checkpoint.empty()) save_checkpoint(options.checkpoint, model, state);
                result.stopped = true;
                return result;
            }
        }
        state.position = 0;
        ++state.epoch;

        // Summary: means over the epoch, the discriminator watch, the rate and ETA.
        const double n = static_cast<double>(std::max(steps_in_summary, 1L));
        summary.mean.d_real /= n, summary.mean.d_fake /= n;
        summary.mean.g_gan /= n, summary.mean.g_l1 /= n;
        const auto now = std::chrono::steady_clock::now();
        summary.seconds = std::chrono::duration<double>(now - epoch_start).count();
        const double d_loss = 0.5 * (summary.mean.d_real + summary.mean.d_fake);
        summary.discriminator_wins = d_loss < options.discriminator_wins_below;
        result.epochs.push_back(summary);
        if (options.progress) {
            // The rate of this epoch: a slow first epoch (a machine busy for a while) does not
            // hold the ETA up for the rest of the run.
            const double rate = n / std::max(summary.seconds, 1e-9);
            const double eta = static_cast<double>(total_steps - state.step) / std::max(rate, 1e-9);
            *options.progress << "epoch " << state.epoch << "/" << options.epochs << "  step "
                              << state.step << "  " << std::fixed << std::setprecision(1) << rate
                              << " img/s  D real " << std::setprecision(3) << summary.mean.d_real
                              << " fake " << summary.mean.d_fake << "  G gan " << summary.mean.g_gan
                              << " L1 " << summary.mean.g_l1 << "  ETA "
                              << detail::format_duration(eta) << std::endl;
            if (summary.discriminator_wins) {
                *options.progress << "warning: the discriminator is winning (mean loss " << d_loss
                                  << " < " << options.discriminator_wins_below
                                  << "): recolourings may turn to texture; a larger lambda_l1 "
                                     "keeps the generator on the true colours"
                                  << std::endl;
            }
        }
        if (csv) csv.flush();
        if (!options.checkpoint.empty()) save_checkpoint(options.checkpoint, model, state);
    }
    return result;
}

}  // namespace recolor::detector
