// Training and checkpoints under failure: a run stopped and resumed (in the library, and through
// the `recolor` program with SIGTERM) writes the same bytes as a run straight through; a loss or
// weight that turns NaN stops training with the step named and the last good checkpoint kept;
// truncated, corrupt and mismatched checkpoints fail with messages that say what mismatched; a
// process killed mid-save leaves a loadable checkpoint; scores do not depend on the batch.
// `recolor score` on a folder with bad files scores the good ones and reports each bad one.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <recolor/detector/checkpoint.hpp>
#include <recolor/detector/score.hpp>
#include <recolor/detector/train.hpp>
#include <recolor/io/io.hpp>

#include "image_files.hpp"
#include "tiny_pix2pix.hpp"

namespace fs = std::filesystem;
using namespace recolor;
using namespace recolor::detector;

namespace {

struct ScratchDir {
    fs::path path;
    explicit ScratchDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("recolor_robust_training_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ScratchDir() { fs::remove_all(path); }
};

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

Pix2PixConfig tiny_config() {
    return testing::tiny_config(32, 11);
}

// A smooth synthetic leaf-like photo: a green-brown disc on black, varied by `k`.
io::ImageRgb8 synthetic_photo(int k, int width = 32, int height = 32) {
    io::ImageRgb8 image{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const double dx = (x - width / 2.0) / width, dy = (y - height / 2.0) / height;
            const bool leaf = dx * dx + dy * dy < 0.16;
            uint8_t* p = &image.pixels[(size_t(y) * width + x) * 3];
            p[0] = leaf ? static_cast<uint8_t>(40 + (x * 3 + k * 17) % 90) : 0;
            p[1] = leaf ? static_cast<uint8_t>(120 + (y * 2 + k * 5) % 100) : 0;
            p[2] = leaf ? static_cast<uint8_t>(30 + (x + y + k * 29) % 60) : 0;
        }
    }
    return image;
}

std::vector<TrainingImage> training_images(int count) {
    std::vector<TrainingImage> out;
    for (int k = 0; k < count; ++k) {
        const io::ImageRgb8 photo = synthetic_photo(k);
        out.push_back({io::to_gray_tensor(photo), io::to_rgb_tensor(photo)});
    }
    return out;
}

TrainOptions quiet_options(const fs::path& checkpoint, long epochs) {
    TrainOptions options;
    options.epochs = epochs;
    options.checkpoint = checkpoint;
    options.progress = nullptr;
    return options;
}

bool all_finite(const io::SafetensorsFile& file) {
    for (const auto& [name, t] : file.tensors) {
        for (float v : t.to_vector()) {
            if (!std::isfinite(v)) return false;
        }
    }
    return true;
}

// The `recolor` program beside the test binary's folder (build/recolor), or "" when not built.
fs::path recolor_program() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    const fs::path program = self.parent_path().parent_path() / "recolor";
    return fs::exists(program) ? program : fs::path();
}

// Runs a command line through the shell; its exit status, or -1 when it did not exit.
int run_shell(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quoted(const fs::path& p) {
    std::string out = "'";
    out += p.string();
    out += '\'';
    return out;
}

// Starts argv in the background with stdout and stderr to log; its pid, once it has replaced
// this process's image (a close-on-exec pipe reads EOF then), so that no signal meant for the
// program reaches a copy of the test binary.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
    int exec_pipe[2];
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::FILE* out = std::freopen(log.c_str(), "w", stdout);
        if (out) ::dup2(::fileno(stdout), 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(exec_pipe[1]);
    char byte;
    while (::read(exec_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::close(exec_pipe[0]);
    return pid;
}

// True once the process has installed a handler for the signal (/proc/<pid>/status, SigCgt).
bool catches_signal(pid_t pid, int signal) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("SigCgt:", 0) == 0) {
            const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
            return (mask >> (signal - 1)) & 1;
        }
    }
    return false;
}

}  // namespace

TEST_SUITE("robust") {
    TEST_CASE("resume: 5 + 5 epochs with a save and load between equal 10 straight, bit for bit") {
        // The issue's case, on 3 tiny images: each epoch reshuffles, so the resumed run must
        // restore the epoch, the Adam moments and steps, and the dropout counters exactly.
        ScratchDir dir("resume");
        const auto images = training_images(3);

        Pix2Pix<CPU> straight(tiny_config());
        TrainState straight_state;
        train(straight, images, quiet_options(dir.path / "straight.safetensors", 10),
              straight_state);

        Pix2Pix<CPU> first(tiny_config());
        TrainState state;
        const fs::path split = dir.path / "split.safetensors";
        train(first, images, quiet_options(split, 5), state);
        auto resumed = load_checkpoint(split);
        CHECK(resumed.state.epoch == 5);
        CHECK(resumed.state.step == 15);
        train(*resumed.model, images, quiet_options(split, 10), resumed.state);

        const std::string expected = read_bytes(dir.path / "straight.safetensors");
        REQUIRE(expected.size() > 1000);
        CHECK_MESSAGE(read_bytes(split) == expected, "the resumed run wrote different bytes");
        CHECK(read_bytes(losses_csv_path(split)) ==
              read_bytes(losses_csv_path(dir.path / "straight.safetensors")));
    }

    TEST_CASE("resume: a stop requested mid-epoch, then a resume, equals a straight run") {
        ScratchDir dir("stop");
        const auto images = training_images(4);
        Pix2Pix<CPU> straight(tiny_config());
        TrainState straight_state;
        train(straight, images, quiet_options(dir.path / "straight.safetensors", 2),
              straight_state);
        const std::string expected = read_bytes(dir.path / "straight.safetensors");

        // Stops after steps 1, 3 (mid-epoch), 4 (an epoch's last step) and 6.
        for (long stop_after : {1L, 3L, 4L, 6L}) {
            CAPTURE(stop_after);
            const fs::path path = dir.path / ("stop" + std::to_string(stop_after) + ".safetensors");
            Pix2Pix<CPU> model(tiny_config());
            TrainState state;
            TrainOptions options = quiet_options(path, 2);
            long steps = 0;
            options.should_stop = [&] { return ++steps == stop_after; };
            const TrainResult stopped = train(model, images, options, state);
            REQUIRE(stopped.stopped);
            auto resumed = load_checkpoint(path);
            CHECK(resumed.state.step == stop_after);
            CHECK(resumed.state.epoch * 4 + resumed.state.position == stop_after);
            const TrainResult finished =
                train(*resumed.model, images, quiet_options(path, 2), resumed.state);
            CHECK_FALSE(finished.stopped);
            CHECK(read_bytes(path) == expected);
        }
    }

    TEST_CASE("a NaN loss stops training, names the step, and keeps the last checkpoint") {
        ScratchDir dir("nan");
        const fs::path path = dir.path / "model.safetensors";
        Pix2Pix<CPU> model(tiny_config());
        TrainState state;
        train(model, training_images(4), quiet_options(path, 1), state);
        const std::string saved = read_bytes(path);
        REQUIRE(saved.size() > 1000);

        // Epoch 2 on images holding a NaN: its first step (step 5) has a NaN loss.
        auto poisoned = training_images(4);
        for (auto& image : poisoned) image.gray.data()[7] = std::nanf("");
        const std::string message =
            error_of([&] { train(model, poisoned, quiet_options(path, 2), state); });
        CAPTURE(message);
        CHECK(contains(message, "at step 5 (epoch 2)"));
        CHECK(contains(message, "the last checkpoint is kept"));
        CHECK(read_bytes(path) == saved);
        CHECK(all_finite(io::load_safetensors(path)));
    }

    TEST_CASE("a diverging step (learning rate 1e39) never leaves non-finite weights on disk") {
        // One image per epoch, so a checkpoint follows every step. Epoch 1 trains normally; then
        // the resumed optimisers' learning rate is raised to 1e39, past float's range (a
        // checkpoint that says so is refused at load): step 2's loss is finite (computed before
        // the update), and the update makes the weights infinite.
        ScratchDir dir("diverge");
        const fs::path path = dir.path / "model.safetensors";
        const auto images = training_images(1);
        Pix2Pix<CPU> model(tiny_config());
        TrainState state;
        train(model, images, quiet_options(path, 1), state);
        const std::string saved = read_bytes(path);

        auto resumed = load_checkpoint(path);
        resumed.model->generator_optimizer.set_lr(1e39);
        resumed.model->discriminator_optimizer.set_lr(1e39);
        const std::string message =
            error_of([&] { train(*resumed.model, images, quiet_options(path, 5), resumed.state); });
        CAPTURE(message);
        CHECK(contains(message, "at step 2 (epoch 2)"));
        CHECK(read_bytes(path) == saved);
        CHECK(all_finite(io::load_safetensors(path)));
    }

    TEST_CASE("a resume keeps the run's augmentation, and one not recorded takes the resume's") {
        ScratchDir dir("augmentation");
        const fs::path path = dir.path / "model.safetensors";
        const auto images = training_images(2);
        Pix2Pix<CPU> model(tiny_config());
        TrainState state;
        TrainOptions options = quiet_options(path, 1);
        options.flip = true;
        train(model, images, options, state);
        io::SafetensorsFile file = io::load_safetensors(path);
        CHECK(file.metadata.at("augmentation") == R"({"crop":false,"flip":true})");

        // Other augmentation than the run's: refused before a step.
        auto resumed = load_checkpoint(path);
        CHECK(resumed.state.augmentation_known);
        const std::string message =
            error_of([&] { train(*resumed.model, images, quiet_options(path, 2), resumed.state); });
        CHECK(contains(message, "the run was started with flip on and crop off"));
        CHECK(resumed.state.step == 2);

        // A checkpoint from before the augmentation was saved: the resume's is taken and
        // recorded from then on.
        file.metadata.erase("augmentation");
        io::save_safetensors(path, {file.tensors.begin(), file.tensors.end()}, file.metadata);
        auto old = load_checkpoint(path);
        CHECK_FALSE(old.state.augmentation_known);
        TrainOptions more = quiet_options(path, 2);
        more.crop = true;  // 32 px images for a 32 px model: crops of size 0 slack, allowed
        train(*old.model, images, more, old.state);
        CHECK(old.state.step == 4);
        CHECK(io::load_safetensors(path).metadata.at("augmentation") ==
              R"({"crop":true,"flip":false})");
    }

    TEST_CASE("truncated, corrupt and mismatched checkpoints fail with what mismatched") {
        ScratchDir dir("checkpoints");
        const fs::path good = dir.path / "good.safetensors";
        Pix2Pix<CPU> model(tiny_config());
        save_checkpoint(good, model, TrainState{});
        const std::string bytes = read_bytes(good);
        REQUIRE(load_checkpoint(good).model->config.ngf == 8);

        // Truncated: every cut in the length and the first bytes of the JSON, 200 cuts through
        // the rest of the header, every cut around its end, then 50 cuts through the data.
        const fs::path cut = dir.path / "cut.safetensors";
        const size_t header_end = 8 + static_cast<size_t>(static_cast<uint8_t>(bytes[0])) +
                                  static_cast<size_t>(static_cast<uint8_t>(bytes[1])) * 256;
        REQUIRE(header_end > 256);
        std::vector<size_t> cuts;
        for (size_t n = 0; n < 64; ++n) cuts.push_back(n);
        for (size_t n = 64; n < header_end - 16; n += header_end / 200) cuts.push_back(n);
        for (size_t n = header_end - 16; n < header_end + 16; ++n) cuts.push_back(n);
        for (size_t n = header_end + 16; n < bytes.size(); n += bytes.size() / 50)
            cuts.push_back(n);
        cuts.push_back(bytes.size() - 1);
        for (size_t n : cuts) {
            CAPTURE(n);
            write_bytes(cut, bytes.substr(0, n));
            const std::string message = error_of([&] { load_checkpoint(cut); });
            CHECK(contains(message, cut.string()));
        }

        // A NaN written into a weight by another program: refused, naming the tensor.
        {
            io::SafetensorsFile file = io::load_safetensors(good);
            auto& [tensor_name, weight] = *file.tensors.begin();
            weight.data()[weight.numel() / 2] = std::nanf("");
            io::save_safetensors(cut, {file.tensors.begin(), file.tensors.end()}, file.metadata);
            const std::string message = error_of([&] { load_checkpoint(cut); });
            CHECK(contains(message, "'" + tensor_name + "' holds nan"));
        }

        // Corrupt: a byte of the JSON header overwritten.
        std::string corrupt = bytes;
        corrupt[20] = '\x01';
        write_bytes(cut, corrupt);
        CHECK(contains(error_of([&] { load_checkpoint(cut); }), "invalid JSON header"));

        // Wrong architecture: the metadata says ngf 16, the tensors are ngf 8.
        io::SafetensorsFile file = io::load_safetensors(good);
        auto rewrite = [&](const fs::path& path, std::map<std::string, std::string> metadata,
                           const std::string& drop = "") {
            std::vector<std::pair<std::string, Tensor<float>>> tensors;
            for (const auto& [name, t] : file.tensors) {
                if (name != drop) tensors.push_back({name, t});
            }
            io::save_safetensors(path, tensors, metadata);
        };
        auto metadata = file.metadata;
        auto config = nlohmann::json::parse(metadata["config"]);
        config["ngf"] = 16;
        metadata["config"] = config.dump();
        const fs::path wider = dir.path / "wider.safetensors";
        rewrite(wider, metadata);
        std::string message = error_of([&] { load_checkpoint(wider); });
        CAPTURE(message);
        CHECK(contains(message,
                       "tensor 'generator.unet.down.weight' expected shape [16, 1, 4, 4], "
                       "found [8, 1, 4, 4]"));

        // A configuration setting changed, loaded: the error.
        auto error_with = [&](const std::string& key, const nlohmann::json& value) {
            auto changed = file.metadata;
            auto settings = nlohmann::json::parse(changed["config"]);
            settings[key] = value;
            changed["config"] = settings.dump();
            const fs::path path = dir.path / "setting.safetensors";
            rewrite(path, changed);
            return error_of([&] { load_checkpoint(path); });
        };

        // Training settings no optimiser accepts: each named with its value.
        for (const auto& [key, value] :
             std::vector<std::pair<std::string, double>>{{"lambda_l1", -5},
                                                         {"lambda_l1", 1e30},
                                                         {"lr", 0},
                                                         {"lr", 2},
                                                         {"beta1", -3},
                                                         {"beta2", 1},
                                                         {"dropout", 1.5}}) {
            CAPTURE(key);
            message = error_with(key, value);
            CAPTURE(message);
            CHECK(contains(message, "training settings out of range"));
            std::ostringstream shown;
            shown << key << " " << value;
            CHECK(contains(message, shown.str()));
        }

        // Settings of the wrong kind: named with their value.
        for (const auto& [key, value, expected] :
             std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
                 {"lr", "0.5", "'lr' must be a number, found \"0.5\""},
                 {"lambda_l1", false, "'lambda_l1' must be a number, found false"},
                 {"image_size", 1e30,
                  "'image_size' must be a whole number up to 2^31, found 1e+30"},
                 {"image_size", 128.9,
                  "'image_size' must be a whole number up to 2^31, found 128.9"},
                 {"seed", -1, "'seed' must be a whole number >= 0, found -1"}}) {
            CAPTURE(key);
            message = error_with(key, value);
            CAPTURE(message);
            CHECK(contains(message, "has a bad configuration: " + expected));
        }

        // A tensor missing.
        const fs::path missing = dir.path / "missing.safetensors";
        rewrite(missing, file.metadata, "discriminator.net.0.bias");
        CHECK(contains(error_of([&] { load_checkpoint(missing); }),
                       "tensor 'discriminator.net.0.bias' is missing"));

        // Not a recolor checkpoint: safetensors without the metadata.
        const fs::path plain = dir.path / "plain.safetensors";
        rewrite(plain, {});
        CHECK(contains(error_of([&] { load_checkpoint(plain); }), "not a recolor checkpoint"));

        // A configuration that claims a huge model ((8 ngf)^2 * 16 floats per inner layer, 4 TB
        // at ngf 1000000), refused before the model is allocated: by the first layer's shape,
        // and, with that tensor and the discriminator's first removed, by the file's size.
        config["ngf"] = 1000000;
        metadata["config"] = config.dump();
        const fs::path huge = dir.path / "huge.safetensors";
        rewrite(huge, metadata);
        message = error_of([&] { load_checkpoint(huge); });
        CHECK(contains(message, huge.string()));
        CHECK(contains(message,
                       "tensor 'generator.unet.down.weight' expected shape "
                       "[1000000, 1, 4, 4], found [8, 1, 4, 4]"));
        file.tensors.erase("discriminator.net.0.weight");
        rewrite(huge, metadata, "generator.unet.down.weight");
        message = error_of([&] { load_checkpoint(huge); });
        CHECK(contains(message, huge.string()));
        CHECK(contains(message, "its configuration (ngf 1000000, ndf 8"));
        CHECK(contains(message, "bytes of tensors, the file holds"));
    }

    TEST_CASE("a resume drops the loss rows logged after its checkpoint") {
        // A run killed after logging steps 5 and 6 but before saving them resumes at step 4.
        ScratchDir dir("losses");
        const fs::path csv = dir.path / "model.losses.csv";
        std::string rows = "epoch,step,d_real,d_fake,g_gan,g_l1\n";
        for (int step = 1; step <= 6; ++step)
            rows += "1," + std::to_string(step) + ",0.5,0.5,1,0.25\n";
        write_bytes(csv, rows);
        keep_losses_through(csv, 4);
        const std::string kept = read_bytes(csv);
        CHECK(std::count(kept.begin(), kept.end(), '\n') == 5);  // header and steps 1-4
        CHECK(contains(kept, "1,4,0.5"));
        CHECK(!contains(kept, "1,5,0.5"));
    }

    TEST_CASE("a process killed while saving leaves the previous checkpoint loadable") {
        ScratchDir dir("atomic");
        const fs::path path = dir.path / "model.safetensors";
        Pix2Pix<CPU> model(tiny_config());
        save_checkpoint(path, model, TrainState{0, 0, 1});
        std::mt19937 rng(5);
        int killed_mid_run = 0;
        for (int round = 0; round < 12; ++round) {
            // The child saves step 2, 3, 4, ... in a loop until it is killed.
            const pid_t pid = ::fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                for (long step = 2;; ++step) save_checkpoint(path, model, TrainState{0, 0, step});
            }
            std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 30000));
            ::kill(pid, SIGKILL);
            int status = 0;
            ::waitpid(pid, &status, 0);
            killed_mid_run += WIFSIGNALED(status) ? 1 : 0;
            const auto loaded = load_checkpoint(path);
            CHECK(loaded.state.step >= 1);
        }
        CHECK(killed_mid_run == 12);
    }

    TEST_CASE("scores do not depend on the batch: alone, three times, or among others") {
        Pix2Pix<CPU> model(tiny_config());
        TrainState state;
        train(model, training_images(4), quiet_options({}, 1), state);  // running statistics
        const io::ImageRgb8 photo = synthetic_photo(9, 45, 37);
        const auto alone = score_images(model, {photo});
        for (int repeat = 0; repeat < 3; ++repeat) {
            const auto again = score_images(model, {photo});
            CHECK(again[0].score.sum == alone[0].score.sum);
            CHECK(again[0].map == alone[0].map);
        }
        const auto batch = score_images(
            model,
            {synthetic_photo(1), photo, synthetic_photo(2, 64, 20), photo, synthetic_photo(3)});
        for (size_t i : {1u, 3u}) {
            CAPTURE(i);
            CHECK(batch[i].score.sum == alone[0].score.sum);
            CHECK(batch[i].score.leaf_mean == alone[0].score.leaf_mean);
            CHECK(batch[i].score.top1_mean == alone[0].score.top1_mean);
            CHECK(batch[i].map == alone[0].map);
        }
        CHECK(batch[0].score.sum != alone[0].score.sum);  // a different photo scores differently
    }

    TEST_CASE("recolor score: bad files are reported once each, good ones scored and written") {
        const fs::path program = recolor_program();
        if (program.empty()) {
            MESSAGE("skipped: the recolor program is not built beside the tests");
            return;
        }
        ScratchDir dir("cli_score");
        const fs::path photos = dir.path / "photos";
        fs::create_directories(photos);
        io::write_png(photos / "good_a.png", synthetic_photo(1, 40, 30));
        io::write_png(photos / "good_b.png", synthetic_photo(2, 31, 33));
        write_bytes(photos / "empty.jpg", "");
        const std::string png = read_bytes(photos / "good_a.png");
        write_bytes(photos / "cut.png", png.substr(0, png.size() / 2));
        write_bytes(photos / "notes.png", "not an image at all");
        test_files::FlatJpeg cmyk;
        cmyk.levels = {{10}, {20}, {30}, {40}};
        write_bytes(photos / "scan.jpg", test_files::flat_jpeg(cmyk));
        write_bytes(photos / "readme.txt", "ignored: not an image extension");
        write_bytes(photos / "new\nline.png", "a newline in the name");
        write_bytes(dir.path / "jk (check `z` failed at q:1)", "junk");
        fs::create_symlink(photos / "nowhere.png", photos / "dangling.png");
        fs::create_directories(dir.path / "empty_folder");
        io::write_png(dir.path / "quote\"d,name.png", synthetic_photo(3, 20, 20));

        Pix2Pix<CPU> model(tiny_config());
        save_checkpoint(dir.path / "model.safetensors", model, TrainState{});
        const fs::path out = dir.path / "out", log = dir.path / "log.txt";
        const int status = run_shell(
            quoted(program) + " score --model " + quoted(dir.path / "model.safetensors") +
            " --out " + quoted(out) + " " + quoted(photos) + " " +
            quoted(dir.path / "empty_folder") + " " + quoted(dir.path / "quote\"d,name.png") + " " +
            quoted(dir.path / "jk (check `z` failed at q:1)") + " > " + quoted(log) + " 2>&1");
        const std::string text = read_bytes(log);
        CAPTURE(text);
        CHECK(status == 1);
        CHECK(contains(text, "scored 3 images, 8 failed"));

        // Each bad file on exactly one line, with its reason.
        const std::vector<std::pair<std::string, std::string>> bad = {
            {"empty.jpg", "empty (0 bytes)"},
            {"cut.png", "truncated PNG"},
            {"notes.png", "not a JPEG, PNG or BMP image"},
            {"scan.jpg", "unsupported CMYK JPEG"},
            {"dangling.png", "No such file"},
            {"empty_folder", "no images"},
            {"new\\nline.png", "not a JPEG, PNG or BMP image"},  // the newline shown as \n
            // A name that looks like the suffix a failed check adds keeps its reason.
            {"jk (check `z` failed at q:1)", "is not a JPEG, PNG or BMP image"}};
        for (const auto& [name, reason] : bad) {
            CAPTURE(name);
            std::istringstream lines(text);
            int count = 0;
            for (std::string line; std::getline(lines, line);) {
                if (!contains(line, name)) continue;
                ++count;
                CHECK(contains(line, reason));
            }
            CHECK(count == 1);
        }

        // Good files: a heatmap of each photo's own size, a panel, a row of scores.
        for (const auto& [name, width, height] :
             {std::tuple{"good_a", 40, 30}, std::tuple{"good_b", 31, 33}}) {
            CAPTURE(name);
            const io::ImageRgb8 heat =
                io::load_image(out / "heatmaps" / (std::string(name) + ".png"));
            CHECK(heat.width == width);
            CHECK(heat.height == height);
            CHECK(fs::exists(out / "panels" / (std::string(name) + ".png")));
        }
        const std::string csv = read_bytes(out / "scores.csv");
        CHECK(std::count(csv.begin(), csv.end(), '\n') == 4);  // header and three rows
        // A quote in a file name is doubled inside its quoted field (RFC 4180).
        CHECK(contains(csv, "quote\"\"d,name.png\","));
    }

    TEST_CASE("recolor: option values that would fail late are refused before any work") {
        const fs::path program = recolor_program();
        if (program.empty()) {
            MESSAGE("skipped: the recolor program is not built beside the tests");
            return;
        }
        ScratchDir dir("cli_options");
        const fs::path healthy = dir.path / "healthy", diseased = dir.path / "diseased";
        fs::create_directories(healthy);
        fs::create_directories(diseased);
        for (int i = 1; i <= 2; ++i) {
            io::write_png(healthy / ("leaf_" + std::to_string(i) + ".png"), synthetic_photo(i));
            io::write_png(diseased / ("leaf_" + std::to_string(i) + ".png"), synthetic_photo(i));
        }
        const std::string train = quoted(program) + " train --healthy " + quoted(healthy) +
                                  " --out " + quoted(dir.path / "model.safetensors");
        const std::string eval = quoted(program) + " eval --healthy " + quoted(healthy) +
                                 " --diseased " + quoted(diseased) + " --out " +
                                 quoted(dir.path / "eval");
        const std::vector<std::pair<std::string, std::string>> cases = {
            {train + " --lambda 1e39", "--lambda must be a number from 0 to 1e+06, found 1e+39"},
            {train + " --lambda 1e20", "found 1e+20"},
            {train + " --lambda -3", "found -3"},
            {train + " --lambda -1", "found -1"},
            {train + " --lambda nan", "found nan"},
            {eval + " --threshold-percentile 101", "--threshold-percentile must be in [0, 100]"},
            {eval + " --threshold-percentile nan", "found nan"},
            {quoted(program) + " train --healthy " + quoted(healthy) + " --out " + quoted(dir.path),
             "is a folder; train writes a model file there"},
            {quoted(program) + " train --healthy " + quoted(healthy) + " --out " +
                 quoted(dir.path / "new_folder" / "."),
             "is a folder; train writes a model file there"},
            {quoted(program) + " eval --healthy " + quoted(healthy) + " --diseased " +
                 quoted(healthy) + " --out " + quoted(dir.path / "eval"),
             "--healthy and --diseased are the same folder"},
            {eval + " --model " + quoted(healthy / "leaf_1.png") + " --lambda 5",
             "eval --model uses a trained model; --lambda is for training one"}};
        // Runs a command line; its exit status and what it printed.
        auto run_logged = [&](const std::string& command) {
            const fs::path log = dir.path / "log.txt";
            const int status = run_shell(command + " > " + quoted(log) + " 2>&1");
            return std::pair{status, read_bytes(log)};
        };
        for (const auto& [command, message] : cases) {
            CAPTURE(command);
            const auto [status, text] = run_logged(command);
            CAPTURE(text);
            CHECK(status == 1);
            CHECK(contains(text, "recolor: error: "));
            CHECK(contains(text, message));
            CHECK_FALSE(fs::exists(dir.path / "model.safetensors"));
            CHECK_FALSE(fs::exists(dir.path / "eval"));
        }

        // Command-line errors (CLI11's checks): status 2, one line, control characters escaped.
        const std::vector<std::pair<std::string, std::string>> usage = {
            {train + " --seed -1", "--seed: must be a whole number from 0 to"},
            {train + " --seed 18446744073709551616", "found 18446744073709551616"},
            {train + " --seed 7x", "found 7x"},
            {train + " --epochs 0", "--epochs: must be a whole number from 1 to 1000000, found 0"},
            {train + " --epochs abc", "found abc"},
            {quoted(program) + " frobnicate", "unknown command 'frobnicate'; the commands are"},
            {train + " --preset \"$(printf 'q\\033[31m')\"", "--preset: q\\x1b[31m not in"},
            {train + " --no-such-option", "--no-such-option"}};
        for (const auto& [command, message] : usage) {
            CAPTURE(command);
            const auto [status, text] = run_logged(command);
            CAPTURE(text);
            CHECK(status == 2);
            CHECK(text.rfind("recolor: error: ", 0) == 0);
            CHECK(contains(text, message));
            CHECK(text.find('\033') == std::string::npos);
            CHECK_FALSE(fs::exists(dir.path / "model.safetensors"));
        }

        // --resume without the augmentation the run was started with: refused before a step.
        const fs::path log = dir.path / "augmentation.txt";
        REQUIRE(run_shell(train + " --epochs 1 --flip > " + quoted(log) + " 2>&1") == 0);
        const std::string saved = read_bytes(dir.path / "model.safetensors");
        CHECK(run_shell(train + " --epochs 2 --resume > " + quoted(log) + " 2>&1") == 1);
        CHECK(contains(read_bytes(log), "was started with --flip and without --crop"));
        CHECK(read_bytes(dir.path / "model.safetensors") == saved);
    }

    TEST_CASE(
        "recolor train: SIGTERM saves, --resume continues, and 1 + 1 epochs equal 2 straight") {
        const fs::path program = recolor_program();
        if (program.empty()) {
            MESSAGE("skipped: the recolor program is not built beside the tests");
            return;
        }
        ScratchDir dir("cli_train");
        const fs::path healthy = dir.path / "healthy";
        fs::create_directories(healthy);
        io::write_png(healthy / "leaf_1.png", synthetic_photo(1, 64, 64));
        io::write_png(healthy / "leaf_2.png", synthetic_photo(2, 64, 64));
        const std::string train = quoted(program) + " train --healthy " + quoted(healthy);
        auto run = [&](const std::string& out, const std::string& extra) {
            return run_shell(train + " --out " + quoted(dir.path / out) + " " + extra + " > " +
                             quoted(dir.path / (out + ".log")) + " 2>&1");
        };

        // Straight: 2 epochs. Split: 1 epoch, then --resume to 2.
        REQUIRE(run("straight.safetensors", "--epochs 2") == 0);
        const std::string expected = read_bytes(dir.path / "straight.safetensors");
        REQUIRE(run("split.safetensors", "--epochs 1") == 0);
        REQUIRE(run("split.safetensors", "--epochs 2 --resume") == 0);
        CHECK(read_bytes(dir.path / "split.safetensors") == expected);

        // SIGTERM as soon as the program catches it: it stops after the step under way, saves,
        // and exits 130; --resume then finishes the run as the straight one did.
        const fs::path stopped = dir.path / "stopped.safetensors";
        const pid_t pid = spawn({program.string(), "train", "--healthy", healthy.string(), "--out",
                                 stopped.string(), "--epochs", "2"},
                                dir.path / "stopped.log");
        REQUIRE(pid > 0);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!catches_signal(pid, SIGTERM) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        ::kill(pid, SIGTERM);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CAPTURE(read_bytes(dir.path / "stopped.log"));
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 130);
        const TrainState at = load_checkpoint(stopped).state;
        CHECK(at.step >= 1);
        CHECK(at.step < 4);
        CHECK(contains(read_bytes(dir.path / "stopped.log"), "with --resume continues it"));
        REQUIRE(run("stopped.safetensors", "--epochs 2 --resume") == 0);
        CHECK(read_bytes(stopped) == expected);
    }
}
