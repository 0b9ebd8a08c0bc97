// The detector end to end on a few real leaves: a small generator and discriminator trained
// for a few steps give finite losses, seeded runs are byte-identical, a saved model scores
// exactly as the live one, and a painted brown spot raises the score.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <recolor/detector/checkpoint.hpp>
#include <recolor/detector/score.hpp>
#include <recolor/detector/train.hpp>
#include <recolor/io/dataset.hpp>

#include "tiny_pix2pix.hpp"

using namespace recolor;
using namespace recolor::detector;
namespace fs = std::filesystem;
using recolor::testing::load_training;
using recolor::testing::tiny_config;

namespace {

const fs::path healthy_dir =
    fs::path(RECOLOR_DATA_DIR) / "plantvillage/segmented/Strawberry___healthy";

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path temp_dir(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / ("recolor_detector_test_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

}  // namespace

TEST_SUITE("detector") {
    TEST_CASE("train a few steps, save, load, score, and seeded runs are identical") {
        if (!fs::exists(healthy_dir)) {
            MESSAGE("skipped: no PlantVillage data at " << healthy_dir.string());
            return;
        }
        auto files = io::list_images(healthy_dir);
        files.resize(6);
        auto images = load_training(files, 32);
        REQUIRE(images.size() == 6);
        const fs::path dir = temp_dir("seeded");

        TrainOptions options;
        options.epochs = 2;
        options.progress = nullptr;
        std::string first_bytes;
        for (int run = 0; run < 2; ++run) {
            Pix2Pix<CPU> model(tiny_config());
            TrainState state;
            options.checkpoint = dir / ("run" + std::to_string(run) + ".safetensors");
            TrainResult result = train(model, images, options, state);
            REQUIRE(result.epochs.size() == 2);
            for (const auto& e : result.epochs) {
                CHECK(std::isfinite(e.mean.d_real + e.mean.d_fake + e.mean.g_gan + e.mean.g_l1));
            }
            CHECK(state.step == 12);
            const std::string bytes = read_bytes(options.checkpoint);
            CHECK(bytes.size() > 1000);
            if (run == 0)
                first_bytes = bytes;
            else
                CHECK_MESSAGE(bytes == first_bytes, "two seeded runs wrote different checkpoints");

            // Score with the live model, then with the model loaded back.
            std::vector<io::ImageRgb8> photos{io::load_image(files[0]), io::load_image(files[1])};
            auto live = score_images(model, photos);
            Checkpoint loaded = load_checkpoint(options.checkpoint);
            CHECK(loaded.state.step == 12);
            auto again = score_images(*loaded.model, photos);
            for (size_t i = 0; i < photos.size(); ++i) {
                CHECK(live[i].score.sum == again[i].score.sum);
                CHECK(live[i].map == again[i].map);
                CHECK(live[i].map.size() == 32 * 32);
            }
            // One image alone scores as it does inside a batch.
            auto alone = score_images(model, {photos[1]});
            CHECK(alone[0].score.sum == live[1].score.sum);
        }
        fs::remove_all(dir);
    }

    TEST_CASE("a painted brown spot scores higher than the same leaf without it") {
        if (!fs::exists(healthy_dir)) {
            MESSAGE("skipped: no PlantVillage data at " << healthy_dir.string());
            return;
        }
        auto files = io::list_images(healthy_dir);
        files.resize(12);
        auto images = load_training(files, 32);
        Pix2Pix<CPU> model(tiny_config());
        TrainState state;
        TrainOptions options;
        options.epochs = 15;
        options.progress = nullptr;
        train(model, images, options, state);

        // A held-out leaf, and the same leaf with a brown disc on its centre (early-blight brown).
        io::ImageRgb8 leaf = io::load_image(io::list_images(healthy_dir)[20]);
        io::ImageRgb8 spotted = leaf;
        const int cx = leaf.width / 2, cy = leaf.height / 2, radius = leaf.width / 6;
        for (int y = cy - radius; y <= cy + radius; ++y) {
            for (int x = cx - radius; x <= cx + radius; ++x) {
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > radius * radius) continue;
                uint8_t* p = &spotted.pixels[(static_cast<size_t>(y) * leaf.width + x) * 3];
                p[0] = 110, p[1] = 70, p[2] = 30;
            }
        }
        auto scored = score_images(model, {leaf, spotted});
        MESSAGE("sum without spot " << scored[0].score.sum << ", with spot "
                                    << scored[1].score.sum);
        CHECK(scored[1].score.sum > scored[0].score.sum);
        CHECK(scored[1].score.leaf_mean > scored[0].score.leaf_mean);
        CHECK(scored[1].score.top1_mean > scored[0].score.top1_mean);
    }
}
