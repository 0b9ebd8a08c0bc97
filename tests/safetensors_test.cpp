// safetensors checkpoints: the round trip, the byte layout the format fixes, the atomic save,
// corrupt files refused with messages that name the file and tensor, load_into a module, and
// an independent Python reader and writer (tests/reference/read_safetensors.py).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <recolor/io/safetensors.hpp>
#include <recolor/nn/layers.hpp>

namespace fs = std::filesystem;
using namespace recolor;
using namespace recolor::io;
using Named = std::vector<std::pair<std::string, Tensor<float>>>;

namespace {

struct ScratchDir {
    fs::path path;
    explicit ScratchDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("recolor_safetensors_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ScratchDir() { fs::remove_all(path); }
};

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

Tensor<float> counting(const Shape& shape, float scale) {
    std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < values.size(); ++i) values[i] = scale * (static_cast<float>(i) - 3.5f);
    return Tensor<float>::from_vector(shape, values);
}

std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A file made by hand: the 8-byte length, the header padded to 8, then `data_bytes` zero bytes.
fs::path write_raw(const fs::path& path, std::string header, size_t data_bytes) {
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string blob(8, '\0');
    for (int i = 0; i < 8; ++i) blob[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
    std::ofstream(path, std::ios::binary) << blob << header << std::string(data_bytes, '\0');
    return path;
}

// A path in single quotes for the shell.
std::string quoted(const fs::path& path) {
    std::string out = "'";
    out += path.string();
    out += "'";
    return out;
}

// Checks that loading fails and that the message holds every one of `parts`.
void check_refused(const fs::path& path, std::initializer_list<std::string> parts) {
    const std::string message = error_of([&] { load_safetensors(path); });
    CAPTURE(message);
    CHECK(message.find(path.string()) != std::string::npos);
    for (const auto& part : parts) CHECK(message.find(part) != std::string::npos);
}

}  // namespace

TEST_SUITE("io") {
    TEST_CASE("safetensors round trip and byte layout") {
        ScratchDir dir("roundtrip");
        const fs::path path = dir.path / "model.safetensors";
        const Named tensors = {{"gen.down.0.weight", counting({4, 3, 2, 2}, 0.25f)},
                               {"gen.down.0.bias", counting({4}, -1.0f)},
                               {"scalar", counting({}, 2.0f)},
                               {"empty", counting({0, 3}, 1.0f)}};
        save_safetensors(path, tensors, {{"epoch", "12"}, {"format", "pt"}});
        CHECK_FALSE(fs::exists(dir.path / "model.safetensors.tmp"));

        // Layout: length, '{', header a multiple of 8, then 4 bytes per element.
        const std::string bytes = read_all(path);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
        CHECK(n % 8 == 0);
        CHECK(bytes[8] == '{');
        CHECK(bytes.size() == 8 + n + (48 + 4 + 1 + 0) * 4);
        float first = 0;  // data starts with gen.down.0.weight[0] = 0.25 * (0 - 3.5)
        std::memcpy(&first, bytes.data() + 8 + n, 4);
        CHECK(first == -0.875f);

        // Back: every name, shape, value and metadata entry.
        const SafetensorsFile file = load_safetensors(path);
        CHECK(file.metadata ==
              std::map<std::string, std::string>{{"epoch", "12"}, {"format", "pt"}});
        REQUIRE(file.tensors.size() == tensors.size());
        for (const auto& [name, tensor] : tensors) {
            CAPTURE(name);
            REQUIRE(file.tensors.count(name) == 1);
            CHECK(file.tensors.at(name).shape() == tensor.shape());
            CHECK(file.tensors.at(name).to_vector() == tensor.to_vector());
        }
    }

    TEST_CASE("safetensors save is atomic: a failed save keeps the old file") {
        ScratchDir dir("atomic");
        const fs::path path = dir.path / "ckpt.safetensors";
        save_safetensors(path, {{"w", counting({3}, 1.0f)}}, {});
        save_safetensors(path, {{"w", counting({3}, 2.0f)}}, {});  // overwrite
        CHECK(load_safetensors(path).tensors.at("w").to_vector() ==
              counting({3}, 2.0f).to_vector());

        // A directory where the temporary file should go makes the save fail.
        fs::create_directory(dir.path / "ckpt.safetensors.tmp");
        const std::string message = error_of([&] {
            save_safetensors(path, {{"w", counting({3}, 9.0f)}}, {});
        });
        CHECK(message.find("ckpt.safetensors.tmp") != std::string::npos);
        CHECK(load_safetensors(path).tensors.at("w").to_vector() ==
              counting({3}, 2.0f).to_vector());
        fs::remove(dir.path / "ckpt.safetensors.tmp");

        // Bad names fail before any byte is written.
        CHECK(error_of([&] {
                  save_safetensors(path, {{"a", counting({1}, 1)}, {"a", counting({1}, 1)}});
              }).find("'a' appears twice") != std::string::npos);
        CHECK(error_of([&] {
                  save_safetensors(path, {{"__metadata__", counting({1}, 1)}});
              }).find("invalid tensor name") != std::string::npos);
        CHECK_FALSE(fs::exists(dir.path / "ckpt.safetensors.tmp"));
        CHECK(load_safetensors(path).tensors.size() == 1);
    }

    TEST_CASE("safetensors: corrupt files are refused, naming file and tensor") {
        ScratchDir dir("corrupt");
        const fs::path good = dir.path / "good.safetensors";
        save_safetensors(good, {{"a", counting({2, 3}, 1.0f)}, {"b", counting({5}, 1.0f)}});
        const std::string bytes = read_all(good);

        // Too short for the length, a length past the end, a cut data section.
        const fs::path short_file = dir.path / "short.safetensors";
        std::ofstream(short_file, std::ios::binary) << bytes.substr(0, 5);
        check_refused(short_file, {"shorter than the 8-byte"});

        const fs::path truncated = dir.path / "truncated.safetensors";
        std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 4);
        check_refused(truncated, {"'b'", "outside"});

        const fs::path huge = dir.path / "huge.safetensors";
        std::string huge_bytes = bytes;
        huge_bytes[5] = '\x01';  // length 2^40 + n
        std::ofstream(huge, std::ios::binary) << huge_bytes;
        check_refused(huge, {"over the format's limit"});

        const fs::path past = dir.path / "past.safetensors";
        std::string past_bytes = bytes.substr(0, 40);
        past_bytes[0] = '\xF0', past_bytes[1] = past_bytes[2] = '\0';  // 240 > 32 bytes left
        std::ofstream(past, std::ios::binary) << past_bytes;
        check_refused(past, {"runs past the end"});

        // Hand-made headers, one fault each; f32 is a valid entry up to its offsets.
        const std::string f32 = R"("dtype":"F32","shape":[2],"data_offsets":)";
        check_refused(write_raw(dir.path / "json.st", R"({"a": {"dtype": )", 8), {"invalid JSON"});
        check_refused(write_raw(dir.path / "dtype.st",
                                R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8),
                      {"'w'", "unknown dtype 'F33'"});
        check_refused(write_raw(dir.path / "f16.st",
                                R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", 8),
                      {"'h'", "F16 is not supported"});
        check_refused(write_raw(dir.path / "range.st", "{\"w\":{" + f32 + "[0,800]}}", 8),
                      {"'w'", "outside the 8 data bytes"});
        check_refused(write_raw(dir.path / "span.st",
                                R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                      {"'w'", "needs 12 bytes"});
        check_refused(write_raw(dir.path / "overlap.st",
                                "{\"x\":{" + f32 + "[0,8]},\"y\":{" + f32 + "[4,12]}}", 12),
                      {"'y' overlaps tensor 'x'"});
        check_refused(write_raw(dir.path / "hole.st",
                                "{\"x\":{" + f32 + "[0,8]},\"y\":{" + f32 + "[12,20]}}", 20),
                      {"bytes 8 to 12 belong to no tensor"});
        check_refused(write_raw(dir.path / "tail.st", "{\"x\":{" + f32 + "[0,8]}}", 16),
                      {"bytes 8 to 16 belong to no tensor"});
        check_refused(write_raw(dir.path / "twice.st",
                                "{\"x\":{" + f32 + "[0,8]},\"x\":{" + f32 + "[0,8]}}", 8),
                      {"'x' appears twice"});
        check_refused(write_raw(dir.path / "shape.st",
                                R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                      {"'w'", "invalid dimension"});
        check_refused(write_raw(dir.path / "meta.st", R"({"__metadata__":{"k":3}})", 0),
                      {"metadata 'k' is not a string"});
        // Nesting 100,000 deep: refused while parsing, before anything recurses through it.
        const std::string deep =
            "{\"t\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
        check_refused(write_raw(dir.path / "deep.st", deep, 0), {"nests deeper than"});
        CHECK(load_safetensors(write_raw(dir.path / "ok.st", "{\"x\":{" + f32 + "[0,8]}}", 8))
                  .tensors.at("x")
                  .shape() == Shape{2});
    }

    TEST_CASE("load_into a module: copies, or names the missing or misshapen tensor") {
        ScratchDir dir("load_into");
        nn::Conv2d<float> source(3, 4, 3), target(3, 4, 3), wrong(3, 5, 3);
        source.weight.copy_from(counting({4, 3, 3, 3}, 0.01f));
        source.bias.copy_from(counting({4}, 0.5f));
        const fs::path path = dir.path / "conv.safetensors";
        Named saved;
        for (auto& [name, t] : source.named_parameters()) saved.push_back({"gen." + name, t});
        save_safetensors(path, saved, {});
        const SafetensorsFile file = load_safetensors(path);

        // The prefix selects the generator's tensors in a file that holds several modules.
        load_into(target.named_parameters(), file, "gen.");
        CHECK(target.weight.to_vector() == source.weight.to_vector());
        CHECK(target.bias.to_vector() == source.bias.to_vector());

        std::string message =
            error_of([&] { load_into(target.named_parameters(), file, "disc."); });
        CHECK(message.find("'disc.weight' is missing") != std::string::npos);
        CHECK(message.find("conv.safetensors") != std::string::npos);

        // Nothing is copied when one tensor does not fit.
        message = error_of([&] { load_into(wrong.named_parameters(), file, "gen."); });
        CHECK(message.find("'gen.weight' expected shape [5, 3, 3, 3], found [4, 3, 3, 3]") !=
              std::string::npos);
        CHECK(wrong.weight.to_vector() == std::vector<float>(5 * 27, 0.0f));
    }

    TEST_CASE("an independent Python reader and writer agree with recolor") {
        const char* python = "/usr/bin/python3";
        const fs::path script = fs::path(RECOLOR_TEST_DIR) / "reference/read_safetensors.py";
        if (!fs::exists(python)) {
            MESSAGE("skipped: " << python << " is not installed");
            return;
        }
        ScratchDir dir("python");
        const auto run = [&](const std::string& args) {
            const fs::path out = dir.path / "out.json";
            const std::string command = std::string(python) + " '" + script.string() + "' " + args +
                                        " > '" + out.string() + "'";
            REQUIRE(std::system(command.c_str()) == 0);
            return nlohmann::json::parse(read_all(out));
        };

        // Python reads recolor's file.
        // Values compare exactly: Python prints each float32 as a double, which round-trips.
        const Named tensors = {{"w", counting({2, 5}, 0.3f)}, {"b", counting({3}, -7.25f)}};
        const fs::path ours = dir.path / "ours.safetensors";
        save_safetensors(ours, tensors, {{"step", "100"}});
        const auto theirs = run(quoted(ours));
        CHECK(theirs["__metadata__"]["step"] == "100");
        for (const auto& [name, tensor] : tensors) {
            CAPTURE(name);
            CHECK(theirs[name]["shape"].get<Shape>() == tensor.shape());
            CHECK(theirs[name]["values"].get<std::vector<float>>() == tensor.to_vector());
        }

        // recolor reads Python's file (tensors laid out in reverse name order).
        const fs::path written = dir.path / "theirs.safetensors";
        const auto expected = run("--write " + quoted(written));
        const SafetensorsFile file = load_safetensors(written);
        CHECK(file.metadata.at("writer") == "read_safetensors.py");
        CHECK(file.tensors.size() + 1 == expected.size());
        for (const auto& [name, entry] : expected.items()) {
            if (name == "__metadata__") continue;
            CAPTURE(name);
            REQUIRE(file.tensors.count(name) == 1);
            CHECK(file.tensors.at(name).shape() == entry["shape"].get<Shape>());
            CHECK(file.tensors.at(name).to_vector() == entry["values"].get<std::vector<float>>());
        }
    }
}
