// The detector on CUDA against the detector on the CPU, on real PlantVillage leaves: the same
// Pix2Pix, seeded alike, trains to the same losses and weights on both devices, and a model
// trained on the CPU, saved and loaded onto CUDA, scores leaves as the CPU does. The CPU is the
// reference; float with TF32 off, so the two differ only by the order of additions (cuDNN's
// algorithms, block reductions). Tensors compare norm-wise, |cuda - cpu| <= 1e-3 |cpu|: after
// Adam's first steps an element whose gradient is close to zero may move by a different amount
// on each device, which an element-wise bound would flag although the model is the same.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <recolor/detector/checkpoint.hpp>
#include <recolor/detector/score.hpp>
#include <recolor/detector/train.hpp>
#include <recolor/io/dataset.hpp>

#include "../tiny_pix2pix.hpp"

using namespace recolor;
using namespace recolor::detector;
namespace fs = std::filesystem;
using recolor::testing::load_training;
using recolor::testing::tiny_config;

namespace {

const fs::path healthy_dir =
    fs::path(RECOLOR_DATA_DIR) / "plantvillage/segmented/Strawberry___healthy";

fs::path temp_dir(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / ("recolor_detector_gpu_test_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// |b - a| / |a| over all elements (|b - a| when a is zero).
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double difference = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(b[i]) - a[i];
        difference += d * d;
        norm += static_cast<double>(a[i]) * a[i];
    }
    return norm > 0 ? std::sqrt(difference / norm) : std::sqrt(difference);
}

double relative_difference(double a, double b) {
    return a != 0 ? std::abs(b - a) / std::abs(a) : std::abs(b - a);
}

// Every tensor of both models, name by name, within `tolerance` (0: bit for bit). Adam's
// moments take part only when asked.
void check_models_close(const std::string& what, Pix2Pix<CPU>& cpu, Pix2Pix<CUDA>& gpu,
                        double tolerance, bool with_optimizer) {
    auto on_cpu = detector::detail::checkpoint_tensors(cpu);
    auto on_gpu = detector::detail::checkpoint_tensors(gpu);
    REQUIRE(on_cpu.size() == on_gpu.size());
    long compared = 0;
    for (size_t i = 0; i < on_cpu.size(); ++i) {
        const std::string& name = on_cpu[i].first;
        REQUIRE(name == on_gpu[i].first);
        if (!with_optimizer && name.find("_optimizer.") != std::string::npos) continue;
        REQUIRE(on_cpu[i].second.shape() == on_gpu[i].second.shape());
        const std::vector<float> a = on_cpu[i].second.to_vector();
        const std::vector<float> b = on_gpu[i].second.to_vector();
        if (tolerance == 0) {
            CHECK_MESSAGE(a == b, what << ": " << name << " differs");
        } else {
            const double error = relative_difference(a, b);
            CHECK_MESSAGE(error <= tolerance,
                          what << ": " << name << " relative difference " << error);
        }
        ++compared;
    }
    CHECK(compared > 0);
}

// The per-step losses train() wrote beside a checkpoint: d_real, d_fake, g_gan, g_l1 per row.
std::vector<std::vector<double>> read_losses(const fs::path& checkpoint) {
    std::ifstream in(losses_csv_path(checkpoint));
    REQUIRE(in);
    std::string line;
    std::getline(in, line);  // header
    std::vector<std::vector<double>> rows;
    while (std::getline(in, line)) {
        std::stringstream fields(line);
        std::string field;
        std::vector<double> row;
        for (int column = 0; std::getline(fields, field, ','); ++column) {
            if (column >= 2) row.push_back(std::stod(field));
        }
        rows.push_back(row);
    }
    return rows;
}

void check_scores_close(const std::vector<ScoredImage>& cpu, const std::vector<ScoredImage>& gpu) {
    REQUIRE(cpu.size() == gpu.size());
    for (size_t i = 0; i < cpu.size(); ++i) {
        const ImageScore &a = cpu[i].score, &b = gpu[i].score;
        MESSAGE("image " << i << ": sum cpu " << a.sum << " cuda " << b.sum << ", leaf_mean cpu "
                         << a.leaf_mean << " cuda " << b.leaf_mean << ", top1_mean cpu "
                         << a.top1_mean << " cuda " << b.top1_mean);
        CHECK(relative_difference(a.sum, b.sum) <= 1e-3);
        CHECK(relative_difference(a.leaf_mean, b.leaf_mean) <= 1e-3);
        CHECK(relative_difference(a.top1_mean, b.top1_mean) <= 1e-3);
        CHECK(a.leaf_fraction == b.leaf_fraction);  // from the photo alone
        CHECK(relative_difference(cpu[i].map, gpu[i].map) <= 1e-3);
    }
}

// A model trained briefly on the CPU, saved, and the same checkpoint loaded onto CUDA.
struct CpuTrainedModel {
    std::unique_ptr<Pix2Pix<CPU>> cpu;
    std::unique_ptr<Pix2Pix<CUDA>> gpu;
    std::vector<io::ImageRgb8> photos;  // 8 leaves the model did not train on
};

CpuTrainedModel train_on_cpu_and_load_on_cuda(const std::string& name) {
    auto files = io::list_images(healthy_dir);
    REQUIRE(files.size() >= 16);
    const fs::path dir = temp_dir(name);
    CpuTrainedModel out;
    out.cpu = std::make_unique<Pix2Pix<CPU>>(tiny_config(64));
    TrainState state;
    TrainOptions options;
    options.epochs = 2;
    options.progress = nullptr;
    options.checkpoint = dir / "cpu.safetensors";
    const std::vector<fs::path> training(files.begin(), files.begin() + 6);
    train(*out.cpu, load_training(training, 64), options, state);

    Checkpoint<CUDA> loaded = load_checkpoint<CUDA>(options.checkpoint);
    CHECK(loaded.state.step == 12);
    out.gpu = std::move(loaded.model);
    for (size_t i = 8; i < 16; ++i) out.photos.push_back(io::load_image(files[i]));
    fs::remove_all(dir);
    return out;
}

}  // namespace

TEST_SUITE("gpu") {
    TEST_CASE("a tiny pix2pix trains on real leaves on CUDA as on the CPU") {
        if (!fs::exists(healthy_dir)) {
            MESSAGE("skipped: no PlantVillage data at " << healthy_dir.string());
            return;
        }
        cuda::set_tf32(false);
        auto files = io::list_images(healthy_dir);
        files.resize(4);
        auto images = load_training(files, 32);
        REQUIRE(images.size() == 4);
        const fs::path dir = temp_dir("train");

        // The same seed gives the same initial weights: drawn on the host, copied over.
        Pix2Pix<CPU> cpu(tiny_config(32));
        Pix2Pix<CUDA> gpu(tiny_config(32));
        check_models_close("initial", cpu, gpu, 0, true);

        // Two epochs of four steps on each device.
        TrainOptions options;
        options.epochs = 2;
        options.progress = nullptr;
        TrainState cpu_state, gpu_state;
        options.checkpoint = dir / "cpu.safetensors";
        train(cpu, images, options, cpu_state);
        options.checkpoint = dir / "cuda.safetensors";
        train(gpu, images, options, gpu_state);
        CHECK(gpu_state.step == 8);

        // Every step's four losses.
        const auto cpu_losses = read_losses(dir / "cpu.safetensors");
        const auto gpu_losses = read_losses(dir / "cuda.safetensors");
        REQUIRE(cpu_losses.size() == 8);
        REQUIRE(gpu_losses.size() == 8);
        const char* names[4] = {"d_real", "d_fake", "g_gan", "g_l1"};
        for (size_t step = 0; step < 8; ++step) {
            for (size_t k = 0; k < 4; ++k) {
                const double a = cpu_losses[step][k], b = gpu_losses[step][k];
                CHECK_MESSAGE(relative_difference(a, b) <= 1e-3, "step " << step + 1 << " "
                                                                         << names[k] << ": cpu "
                                                                         << a << ", cuda " << b);
            }
        }

        // The weights and batch-norm statistics after eight steps.
        check_models_close("after 8 steps", cpu, gpu, 1e-3, false);

        // The checkpoint the CUDA run wrote holds the CUDA model exactly, and loads on the CPU.
        Checkpoint<CPU> saved = load_checkpoint<CPU>(dir / "cuda.safetensors");
        CHECK(saved.state.step == 8);
        check_models_close("CUDA checkpoint read on the CPU", *saved.model, gpu, 0, true);
        fs::remove_all(dir);
    }

    TEST_CASE("a CPU-trained model loaded onto CUDA scores real leaves as the CPU does") {
        if (!fs::exists(healthy_dir)) {
            MESSAGE("skipped: no PlantVillage data at " << healthy_dir.string());
            return;
        }
        cuda::set_tf32(false);
        CpuTrainedModel model = train_on_cpu_and_load_on_cuda("score");

        // The checkpoint carries every tensor over bit for bit.
        check_models_close("loaded onto CUDA", *model.cpu, *model.gpu, 0, true);

        // Eval mode (running statistics, no dropout), the default of `recolor score`.
        auto on_cpu = score_images(*model.cpu, model.photos);
        auto on_gpu = score_images(*model.gpu, model.photos);
        check_scores_close(on_cpu, on_gpu);
    }

    TEST_CASE("training-mode scoring on CUDA (batch statistics and dropout) matches the CPU") {
        if (!fs::exists(healthy_dir)) {
            MESSAGE("skipped: no PlantVillage data at " << healthy_dir.string());
            return;
        }
        cuda::set_tf32(false);
        CpuTrainedModel model = train_on_cpu_and_load_on_cuda("train_mode");

        // Both models hold the same dropout counters, so each image draws the same masks.
        auto on_cpu = score_images(*model.cpu, model.photos, true);
        auto on_gpu = score_images(*model.gpu, model.photos, true);
        check_scores_close(on_cpu, on_gpu);
    }
}
