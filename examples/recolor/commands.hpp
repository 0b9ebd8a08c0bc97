// The recolor program's three commands, `train`, `score` and `eval`, for a model on device D.
// main.cpp parses the command line and runs them on the CPU; cuda_commands.cu, compiled by nvcc
// where the build has CUDA, instantiates them for CUDA. Images are read, scored and written on
// the host whatever the device; only the generator and the training steps run on D. Scoring a
// list of files and writing what it yields is in scoring.hpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recolor/detector/checkpoint.hpp"
#include "recolor/detector/metrics.hpp"
#include "recolor/detector/presets.hpp"
#include "recolor/detector/report.hpp"
#include "recolor/detector/score.hpp"
#include "recolor/detector/train.hpp"
#include "recolor/io/dataset.hpp"
#include "recolor/io/image.hpp"
#include "scoring.hpp"

namespace recolor::cli {

namespace fs = std::filesystem;
using namespace recolor::detector;

// Options shared by `train` and `eval` (when it trains).
struct TrainingFlags {
    std::string preset = "quick";
    long epochs = -1;  // -1: the preset's
    uint64_t seed = 0;
    std::optional<double> lambda_l1;  // none: the preset's
    bool flip = false, crop = false, resume = false;
};

// One parsed command line.
struct Command {
    enum class Kind { train, score, eval };
    Kind kind = Kind::train;
    std::string device = "cpu";
    TrainingFlags flags;
    std::string healthy, diseased, out, model_path;
    std::vector<std::string> inputs;
    bool training_mode = false;
    long diseased_count = 100;
    double threshold_percentile = 95;
};

inline Preset resolve(const TrainingFlags& f) {
    Preset p = preset(f.preset);
    if (f.epochs > 0) p.epochs = f.epochs, p.steps = 0;
    if (f.lambda_l1) p.model.lambda_l1 = *f.lambda_l1;
    p.model.seed = f.seed;
    return p;
}

// Refuses, before any work, values that would make a run fail late or mean nothing.
inline void validate(const Command& c) {
    const double lambda = c.flags.lambda_l1.value_or(0);
    RECOLOR_CHECK(lambda >= 0 && lambda <= max_lambda_l1, "--lambda must be a number from 0 to "
                                                              << exact(max_lambda_l1) << ", found "
                                                              << exact(lambda));
    RECOLOR_CHECK(std::isfinite(c.threshold_percentile) && c.threshold_percentile >= 0 &&
                      c.threshold_percentile <= 100,
                  "--threshold-percentile must be in [0, 100], found " << c.threshold_percentile);
    if (c.kind == Command::Kind::train) {
        const fs::path last = fs::path(c.out).filename();
        RECOLOR_CHECK(!c.out.empty() && c.out.back() != '/' && last != "." && last != ".." &&
                          !fs::is_directory(c.out),
                      "--out '" << c.out << "' is a folder; train writes a model file there");
    }
    if (c.kind == Command::Kind::eval) {
        std::error_code ec;
        RECOLOR_CHECK(!fs::equivalent(c.healthy, c.diseased, ec),
                      "--healthy and --diseased are the same folder '" << c.diseased << "'");
    }
}

inline void report_failures(const std::vector<io::LoadFailure>& failures) {
    for (const auto& f : failures) report_file_failure("skipped", f.path, f.reason);
}

// Loads and trains (or resumes) a model on the given healthy images; saves to `out`.
template <typename D>
std::unique_ptr<Pix2Pix<D>> train_model(const std::vector<fs::path>& healthy,
                                        const TrainingFlags& flags, const fs::path& out) {
    Preset p = resolve(flags);
    TrainState state;
    std::unique_ptr<Pix2Pix<D>> model;
    if (flags.resume && fs::exists(out)) {
        Checkpoint<D> c = load_checkpoint<D>(out);
        // The run continues as it was configured: options that would change it are refused,
        // not silently ignored (a different seed would also change eval's split).
        const Pix2PixConfig& was = c.model->config;
        RECOLOR_CHECK(was.seed == p.model.seed && was.image_size == p.model.image_size &&
                          was.ngf == p.model.ngf && was.lambda_l1 == p.model.lambda_l1,
                      "--resume: '"
                          << out.string() << "' was started with seed " << was.seed << ", "
                          << was.image_size << " px, ngf " << was.ngf << ", lambda "
                          << exact(was.lambda_l1) << "; this command asks for " << p.model.seed
                          << ", " << p.model.image_size << " px, ngf " << p.model.ngf << ", lambda "
                          << exact(p.model.lambda_l1)
                          << " (resume with the options it was started with)");
        const TrainState& run = c.state;
        RECOLOR_CHECK(!run.augmentation_known || (run.flip == flags.flip && run.crop == flags.crop),
                      "--resume: '" << out.string() << "' was started with"
                                    << (run.flip ? "" : "out") << " --flip and with"
                                    << (run.crop ? "" : "out")
                                    << " --crop; resume it the same way");
        model = std::move(c.model);
        state = c.state;
        std::cerr << "recolor: resuming " << out.string() << " at epoch " << state.epoch
                  << ", step " << state.step << "\n";
    } else {
        model = std::make_unique<Pix2Pix<D>>(p.model);
    }
    const long size = model->config.image_size;
    const int load_size = static_cast<int>(flags.crop ? size + size / 8 : size);
    io::Dataset data(healthy, {load_size, load_size});
    report_failures(data.failures());
    RECOLOR_CHECK(!data.empty(), "no healthy image could be loaded");
    std::vector<TrainingImage> images;
    for (const auto& s : data.samples()) images.push_back({s.gray, s.rgb});

    TrainOptions options;
    options.epochs = p.epochs_for(static_cast<long>(images.size()));
    options.flip = flags.flip;
    options.crop = flags.crop;
    options.checkpoint = out;
    options.should_stop = [] { return stop_requested.load(); };
    std::cerr << "recolor: training on " << images.size() << " images, " << size << " px, ngf "
              << model->config.ngf << ", lambda " << model->config.lambda_l1 << ", "
              << options.epochs << " epochs" << (is_cpu<D> ? "" : " on CUDA") << " -> "
              << out.string() << "\n";
    fs::create_directories(fs::absolute(out).parent_path());
    TrainResult r = train(*model, images, options, state);
    if (r.stopped) {
        std::cerr << "recolor: stopped; saved " << out.string() << " at epoch " << state.epoch
                  << " (the same command with --resume continues it)\n";
        std::exit(130);
    }
    return model;
}

template <typename D>
int run_train(const Command& c) {
    std::vector<io::LoadFailure> unreadable;
    const auto healthy = io::list_images(c.healthy, &unreadable);
    report_failures(unreadable);
    train_model<D>(healthy, c.flags, c.out);
    std::cout << "model: " << c.out << "\n";
    return 0;
}

template <typename D>
int run_score(const Command& c) {
    Checkpoint<D> checkpoint = load_checkpoint<D>(c.model_path);
    std::vector<io::LoadFailure> unreadable;
    std::vector<fs::path> files = expand_inputs(c.inputs, unreadable);
    for (const auto& f : unreadable) report_file_failure("cannot score", f.path, f.reason);
    long failed = static_cast<long>(unreadable.size());
    auto rows = score_files(*checkpoint.model, files, c.out, c.training_mode, failed);
    if (stop_requested && rows.empty()) {
        // Stopped before a score: a scores.csv there from an earlier run stays as it was.
        std::cout << "stopped before any image was scored\n";
        return 130;
    }
    write_scores_csv(fs::path(c.out) / "scores.csv", rows);
    std::cout << "scored " << rows.size() << " images, " << failed << " failed; "
              << (fs::path(c.out) / "scores.csv").string() << "\n";
    if (stop_requested) return 130;
    return failed > 0 ? 1 : 0;
}

using Variant = std::pair<std::string, double ImageScore::*>;
inline const std::vector<Variant> variants{{"sum", &ImageScore::sum},
                                           {"leaf_mean", &ImageScore::leaf_mean},
                                           {"top1_mean", &ImageScore::top1_mean}};

inline std::vector<double> column(const std::vector<Scored>& rows, double ImageScore::*member) {
    std::vector<double> out;
    for (const auto& r : rows) out.push_back(r.score.*member);
    return out;
}

inline nlohmann::json evaluate(const std::vector<Scored>& healthy,
                               const std::vector<Scored>& diseased,
                               const std::vector<Scored>& calibration, double percentile_p) {
    nlohmann::json j;
    for (const auto& [name, member] : variants) {
        const double threshold = percentile(column(calibration, member), percentile_p);
        j[name] = variant_metrics(column(healthy, member), column(diseased, member), threshold);
        j[name]["threshold"]["rule"] = "percentile " + std::to_string(percentile_p) +
                                       " of the healthy training images' scores";
    }
    return j;
}

// report.html: the metrics, ROC curves, histograms, and the most and least anomalous images.
inline void write_eval_report(const fs::path& out, const nlohmann::json& metrics,
                              const std::vector<Scored>& healthy,
                              const std::vector<Scored>& diseased, const std::string& primary) {
    std::vector<ReportVariant> report_variants;
    for (const auto& [name, member] : variants) {
        report_variants.push_back({name, column(healthy, member), column(diseased, member)});
    }
    std::vector<std::pair<const Scored*, bool>> all;
    for (const auto& r : healthy) all.push_back({&r, false});
    for (const auto& r : diseased) all.push_back({&r, true});
    const auto member = std::find_if(variants.begin(), variants.end(), [&](auto& v) {
                            return v.first == primary;
                        })->second;
    std::sort(all.begin(), all.end(),
              [&](auto& a, auto& b) { return a.first->score.*member > b.first->score.*member; });
    constexpr size_t shown = 8;
    std::vector<ReportImage> images;
    for (size_t i = 0; i < all.size(); ++i) {
        if (i >= shown && i + shown < all.size()) continue;
        const Scored& r = *all[i].first;
        if (r.panel.empty()) continue;
        ReportImage image{r.file.filename().string(), all[i].second, {}, io::load_image(r.panel)};
        for (const auto& [name, m] : variants) image.scores[name] = r.score.*m;
        images.push_back(std::move(image));
    }
    write_report(
        out / "report.html", "recolor eval: " + out.filename().string(), metrics, report_variants,
        primary, images,
        "Panels: photo | gray input | recolouring | CIEDE2000 heatmap. Scores: sum = the paper's "
        "anomaly score (sum of the map at model size); leaf_mean and top1_mean leave the "
        "detected background out.");
}

template <typename D>
int run_eval(const Command& c) {
    // Split: the paper's protocol, half the healthy images train and the rest test, beside
    // `diseased_count` diseased images.
    const fs::path out = c.out;
    std::vector<io::LoadFailure> unreadable;
    const auto healthy_all = io::list_images(c.healthy, &unreadable);
    const io::Split split = io::split_paths(healthy_all, 0.5, c.flags.seed);
    auto diseased_all = io::list_images(c.diseased, &unreadable);
    report_failures(unreadable);
    RECOLOR_CHECK(!split.test.empty() && (!split.train.empty() || !c.model_path.empty()),
                  "eval: needs at least 2 healthy images (half train, half test); '"
                      << c.healthy << "' has " << healthy_all.size());
    const auto diseased = io::sample_paths(
        diseased_all, std::min<size_t>(static_cast<size_t>(c.diseased_count), diseased_all.size()),
        c.flags.seed);
    fs::create_directories(out);

    // Model.
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<Pix2Pix<D>> model;
    if (!c.model_path.empty()) {
        model = std::move(load_checkpoint<D>(c.model_path).model);
    } else {
        model = train_model<D>(split.train, c.flags, out / "model.safetensors");
    }
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // Score.
    long failed = 0;
    const auto score_start = std::chrono::steady_clock::now();
    auto healthy_rows = score_files(*model, split.test, out / "healthy", c.training_mode, failed);
    auto diseased_rows = score_files(*model, diseased, out / "diseased", c.training_mode, failed);
    const double score_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - score_start).count();
    auto calibration_rows =
        score_files(*model, split.train, out / "train", c.training_mode, failed, false);
    if (stop_requested) {
        // Partial scores would give metrics that look whole: none are written.
        std::cerr << "recolor: stopped; no metrics written (the same command with --resume "
                     "continues)\n";
        return 130;
    }
    RECOLOR_CHECK(!healthy_rows.empty() && !diseased_rows.empty(),
                  "eval: needs healthy and diseased test images that load");

    // Measure.
    nlohmann::json metrics =
        evaluate(healthy_rows, diseased_rows, calibration_rows, c.threshold_percentile);
    metrics["setup"] = {
        {"healthy_dir", c.healthy},
        {"diseased_dir", c.diseased},
        {"train_images", split.train.size()},
        {"healthy_test_images", healthy_rows.size()},
        {"diseased_test_images", diseased_rows.size()},
        {"failed_images", failed},
        {"seed", c.flags.seed},
        {"scoring_mode", c.training_mode ? "train" : "eval"},
        {"config", config_to_json(model->config)},
        {"train_seconds", train_seconds},
        {"score_ms_per_image",
         1000.0 * score_seconds / static_cast<double>(healthy_rows.size() + diseased_rows.size())}};
    // The device is recorded off the CPU only, so that a CPU run's file stays as it was.
    if constexpr (!is_cpu<D>) metrics["setup"]["device"] = std::string(D::name);
    // Paths need not be UTF-8: invalid bytes are written as U+FFFD rather than failing here.
    write_text_file(out / "metrics.json",
                    metrics.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::vector<Scored> rows(healthy_rows);
    rows.insert(rows.end(), diseased_rows.begin(), diseased_rows.end());
    std::vector<std::string> labels(healthy_rows.size(), "healthy");
    labels.insert(labels.end(), diseased_rows.size(), "diseased");
    write_scores_csv(out / "scores.csv", rows, labels);
    write_eval_report(out, metrics, healthy_rows, diseased_rows, "sum");

    // Print.
    std::cout << std::fixed << std::setprecision(3);
    for (const auto& [name, member] : variants) {
        const nlohmann::json& m = metrics[name];
        std::cout << std::left << std::setw(10) << name << " AUC " << m["auc"].get<double>()
                  << "  P@K " << m["precision_at_k"].get<double>() << "  R@K "
                  << m["recall_at_k"].get<double>() << "  F1@K " << m["f1_at_k"].get<double>()
                  << "  (K = " << m["k"].get<long>() << ")\n";
    }
    std::cout << "metrics: " << (out / "metrics.json").string()
              << "\nreport: " << (out / "report.html").string() << "\n";
    return failed > 0 ? 1 : 0;
}

// Runs the parsed command with the model on device D.
template <typename D>
int run_command(const Command& c) {
    validate(c);
    switch (c.kind) {
        case Command::Kind::train:
            return run_train<D>(c);
        case Command::Kind::score:
            return run_score<D>(c);
        case Command::Kind::eval:
            return run_eval<D>(c);
    }
    return 2;
}

#if defined(RECOLOR_WITH_CUDA)
// run_command<CUDA>, compiled by nvcc in cuda_commands.cu; fails with a message when this
// machine has no CUDA device.
int run_command_cuda(const Command& c);
#endif

}  // namespace recolor::cli
