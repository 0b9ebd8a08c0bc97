// Images and image sets: decoding (real PlantVillage JPEGs and files the tests write), the alpha
// and grey policies, failures that name the file, Pillow's luma, tensors, resizing, listing,
// seeded splits and the preloading Dataset.
#include <doctest/doctest.h>

#include <algorithm>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <recolor/io/io.hpp>

namespace fs = std::filesystem;
using namespace recolor;
using namespace recolor::io;

namespace {

const fs::path potato_healthy = fs::path(RECOLOR_DATA_DIR) / "plantvillage/color/Potato___healthy";

// A fresh directory per test case, removed at the end.
struct ScratchDir {
    fs::path path;
    explicit ScratchDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("recolor_io_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ScratchDir() { fs::remove_all(path); }
};

void write_bytes(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// The message of the recolor::Error that f throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_SUITE("io") {
    TEST_CASE("real PlantVillage JPEGs decode to 256x256 RGB") {
        if (!fs::is_directory(potato_healthy)) {
            MESSAGE("skipped: no test images at " << potato_healthy.string());
            return;
        }
        const auto paths = list_images(potato_healthy);
        CHECK(paths.size() == 152);  // shared/data/README.md: all 152 healthy potato photos
        for (size_t i = 0; i < 3; ++i) {
            const ImageRgb8 image = load_image(paths[i]);
            CHECK(image.width == 256);
            CHECK(image.height == 256);
            CHECK(image.pixels.size() == 256u * 256u * 3u);
        }

        // Channel order and decoding against Pillow 9.4 (Image.open(f).convert("RGB") mean per
        // channel of 00fc2ee5-..._RS_HL_1864.JPG: 115.2228, 122.9595, 103.2388). Decoders'
        // IDCTs differ by a level or so, so the means agree to 0.5.
        const ImageRgb8 first = load_image(paths[0]);
        REQUIRE(paths[0].filename().string().rfind("00fc2ee5", 0) == 0);
        const double pil_mean[3] = {115.2228, 122.9595, 103.2388};
        for (int c = 0; c < 3; ++c) {
            double sum = 0;
            for (size_t i = c; i < first.pixels.size(); i += 3) sum += first.pixels[i];
            CHECK(std::abs(sum / (256.0 * 256.0) - pil_mean[c]) < 0.5);
        }
    }

    TEST_CASE("alpha is composited on black, grey is replicated") {
        ScratchDir dir("alpha");
        // RGBA: opaque, transparent, half (a = 128) and a quarter (a = 64) covered.
        const uint8_t rgba[] = {200, 100, 50, 255, 200, 100, 50, 0,
                                200, 100, 50, 128, 10,  20,  30, 64};
        write_png(dir.path / "rgba.png", 4, 1, 4, rgba);
        const ImageRgb8 image = load_image(dir.path / "rgba.png");
        REQUIRE(image.width == 4);
        REQUIRE(image.height == 1);
        // By hand: round(c * a / 255): 200*128/255 = 100.4, 100*128/255 = 50.2, 50*128/255 =
        // 25.1; 10*64/255 = 2.51, 20*64/255 = 5.02, 30*64/255 = 7.53.
        const std::vector<uint8_t> expected = {200, 100, 50, 0, 0, 0, 100, 50, 25, 3, 5, 8};
        CHECK(image.pixels == expected);

        // Grey and grey + alpha (100 at a = 51: 100 * 51 / 255 = 20).
        const uint8_t grey[] = {0, 77, 255};
        write_png(dir.path / "grey.png", 3, 1, 1, grey);
        CHECK(load_image(dir.path / "grey.png").pixels ==
              std::vector<uint8_t>{0, 0, 0, 77, 77, 77, 255, 255, 255});
        const uint8_t grey_alpha[] = {100, 51};
        write_png(dir.path / "grey_alpha.png", 1, 1, 2, grey_alpha);
        CHECK(load_image(dir.path / "grey_alpha.png").pixels == std::vector<uint8_t>{20, 20, 20});
    }

    TEST_CASE("BMP and PNG round trip exactly") {
        ScratchDir dir("lossless");
        ImageRgb8 image{3, 2, {}};
        for (int i = 0; i < 18; ++i) image.pixels.push_back(static_cast<uint8_t>(i * 14 + 3));
        write_png(dir.path / "a.png", image);
        CHECK(load_image(dir.path / "a.png").pixels == image.pixels);
        REQUIRE(stbi_write_bmp((dir.path / "a.bmp").c_str(), 3, 2, 3, image.pixels.data()));
        CHECK(load_image(dir.path / "a.bmp").pixels == image.pixels);
        // A full disk is an error naming the file, not a cut file.
        if (fs::exists("/dev/full")) {
            CHECK(error_of([&] { write_png("/dev/full", image); }).find("/dev/full") !=
                  std::string::npos);
        }
    }

    TEST_CASE("bad files give an error naming the file") {
        ScratchDir dir("bad");
        const fs::path empty = dir.path / "empty.jpg";
        write_bytes(empty, "");
        std::string message = error_of([&] { load_image(empty); });
        CHECK(message.find(empty.string()) != std::string::npos);
        CHECK(message.find("empty") != std::string::npos);

        const fs::path text = dir.path / "notes.png";
        write_bytes(text, "these are not pixels");
        message = error_of([&] { load_image(text); });
        CHECK(message.find(text.string()) != std::string::npos);
        CHECK(message.find("is not a JPEG, PNG or BMP image") != std::string::npos);

        const fs::path missing = dir.path / "missing.jpg";
        message = error_of([&] { load_image(missing); });
        CHECK(message.find(missing.string()) != std::string::npos);

        // Over the pixel limit: refused from the header.
        const std::vector<uint8_t> grey(100 * 100, 128);
        write_png(dir.path / "big.png", 100, 100, 1, grey.data());
        message = error_of([&] { load_image(dir.path / "big.png", 5000); });
        CHECK(message.find("big.png") != std::string::npos);
        CHECK(message.find("10000 pixels") != std::string::npos);
        CHECK(load_image(dir.path / "big.png", 10000).width == 100);

        message =
            error_of([&] { write_png(dir.path / "no/such/dir/x.png", 1, 1, 1, grey.data()); });
        CHECK(message.find("no/such/dir/x.png") != std::string::npos);
    }

    TEST_CASE("a truncated JPEG gives an error naming the file") {
        if (!fs::is_directory(potato_healthy)) {
            MESSAGE("skipped: no test images at " << potato_healthy.string());
            return;
        }
        ScratchDir dir("truncated");
        std::ifstream in(list_images(potato_healthy)[0], std::ios::binary);
        std::string head(100, '\0');
        in.read(head.data(), 100);
        const fs::path cut = dir.path / "cut.jpg";
        write_bytes(cut, head);
        const std::string message = error_of([&] { load_image(cut); });
        CHECK(message.find(cut.string()) != std::string::npos);
        CHECK(message.find("truncated JPEG") != std::string::npos);
    }

    TEST_CASE("luma matches Pillow's convert(\"L\")") {
        // Pillow 9.4.0: Image.new("RGB", (1, 1), rgb).convert("L").getpixel((0, 0)). The last
        // four are colours where the rounded float formula (0.299 R + 0.587 G + 0.114 B) is
        // one higher than Pillow.
        struct Case {
            uint8_t r, g, b, l;
        };
        const Case cases[] = {{255, 0, 0, 76},      {0, 255, 0, 150},     {0, 0, 255, 29},
                              {255, 255, 255, 255}, {128, 128, 128, 128}, {12, 200, 99, 132},
                              {200, 100, 50, 124},  {0, 0, 250, 28},      {0, 4, 168, 21},
                              {0, 8, 86, 14},       {0, 14, 213, 32}};
        for (const Case& c : cases) {
            CAPTURE(int(c.r));
            CAPTURE(int(c.g));
            CAPTURE(int(c.b));
            CHECK(int(luma(c.r, c.g, c.b)) == int(c.l));
        }
    }

    TEST_CASE("tensors: layout, range and the way back") {
        const ImageRgb8 image{2, 1, {255, 0, 0, 0, 128, 255}};
        const auto gray = to_gray_tensor(image);
        CHECK(gray.shape() == Shape{1, 1, 1, 2});
        // luma(255, 0, 0) = 76 (Pillow); 76 / 127.5 - 1.
        CHECK(gray.data()[0] == doctest::Approx(76 / 127.5 - 1).epsilon(1e-6));
        const auto rgb = to_rgb_tensor(image);
        CHECK(rgb.shape() == Shape{1, 3, 1, 2});
        const std::vector<float> planes = rgb.to_vector();  // R plane, then G, then B
        CHECK(planes[0] == 1.0f);
        CHECK(planes[1] == -1.0f);
        CHECK(planes[3] == doctest::Approx(128 / 127.5 - 1).epsilon(1e-6));
        CHECK(planes[5] == 1.0f);

        // Every level survives the round trip.
        ImageRgb8 levels{256, 1, {}};
        for (int v = 0; v < 256; ++v) levels.pixels.insert(levels.pixels.end(), 3, uint8_t(v));
        const auto back = to_rgb_tensor(levels);
        CHECK(from_rgb_tensor(back.data(), 256, 1).pixels == levels.pixels);

        // Clamping, rounding half up, NaN.
        const float values[3] = {1.5f, 0.0f, std::nanf("")};
        const float chw[9] = {values[0], values[1], values[2], -2.0f, -1.0f,
                              1.0f,      0.5f,      -0.5f,     0.999f};
        const ImageRgb8 out = from_rgb_tensor(chw, 3, 1);
        // (v + 1) * 127.5: 1.5 -> 255 (clamped), 0 -> 127.5 -> 128, NaN -> 0; -2 -> 0,
        // -1 -> 0, 1 -> 255; 0.5 -> 191.25 -> 191, -0.5 -> 63.75 -> 64, 0.999 -> 254.87 -> 255.
        CHECK(out.pixels == std::vector<uint8_t>{255, 0, 191, 128, 0, 64, 0, 255, 255});
    }

    TEST_CASE("resize: size, and a flat colour stays flat") {
        ImageRgb8 flat{40, 30, std::vector<uint8_t>(40 * 30 * 3)};
        for (size_t i = 0; i < flat.pixels.size(); ++i) flat.pixels[i] = (i % 3 == 0) ? 90 : 170;
        for (auto [w, h] : {std::pair{17, 9}, std::pair{64, 64}, std::pair{40, 30}}) {
            const ImageRgb8 out = resize(flat, w, h);
            CHECK(out.width == w);
            CHECK(out.height == h);
            REQUIRE(out.pixels.size() == size_t(w) * h * 3);
            // Filter weights sum to one, so a flat image keeps its colour.
            CHECK(out.pixels[0] == 90);
            CHECK(out.pixels[out.pixels.size() - 1] == 170);
        }
        CHECK(error_of([&] { resize(flat, 0, 5); }).find("positive") != std::string::npos);

        if (!fs::is_directory(potato_healthy)) return;
        const ImageRgb8 small = resize(load_image(list_images(potato_healthy)[0]), 128, 64);
        CHECK(small.width == 128);
        CHECK(small.height == 64);
    }

    TEST_CASE("list_images: image extensions in any case, sorted") {
        ScratchDir dir("list");
        for (const char* name : {"b.jpg", "a.PNG", "d.JPEG", "c.txt", "e.bmp", "f.gif"}) {
            write_bytes(dir.path / name, "x");
        }
        fs::create_directories(dir.path / "sub.png");
        const auto paths = list_images(dir.path);
        std::vector<std::string> names;
        for (const auto& p : paths) names.push_back(p.filename().string());
        CHECK(names == std::vector<std::string>{"a.PNG", "b.jpg", "d.JPEG", "e.bmp"});

        // Image-named entries that are no readable file are left out, and reported when asked.
        fs::create_symlink(dir.path / "nowhere.png", dir.path / "dangling.png");
        fs::create_symlink(dir.path / "loop_b.jpg", dir.path / "loop_a.jpg");
        fs::create_symlink(dir.path / "loop_a.jpg", dir.path / "loop_b.jpg");
        std::vector<LoadFailure> unreadable;
        CHECK(list_images(dir.path, &unreadable).size() == 4);
        std::vector<std::string> refused;
        for (const auto& f : unreadable) refused.push_back(f.path.filename().string());
        std::sort(refused.begin(), refused.end());
        CHECK(refused ==
              std::vector<std::string>{"dangling.png", "loop_a.jpg", "loop_b.jpg", "sub.png"});
        for (const auto& f : unreadable) CHECK(!f.reason.empty());

        CHECK(error_of([&] { list_images(dir.path / "absent"); }).find("absent") !=
              std::string::npos);
        CHECK(error_of([&] { list_images(dir.path / "sub.png"); }).find("no images") !=
              std::string::npos);
    }

    TEST_CASE("split_paths: seeded, disjoint, independent of input order") {
        std::vector<fs::path> paths;
        for (int i = 0; i < 100; ++i)
            paths.push_back(fs::path("leaf_").concat(std::to_string(i)).concat(".jpg"));
        const Split a = split_paths(paths, 0.8, 42);
        CHECK(a.train.size() == 80);
        CHECK(a.test.size() == 20);
        std::set<fs::path> all(a.train.begin(), a.train.end());
        for (const auto& p : a.test) CHECK(all.insert(p).second);  // disjoint
        CHECK(all.size() == 100);

        const Split same = split_paths(paths, 0.8, 42);
        CHECK(same.train == a.train);
        CHECK(same.test == a.test);
        const std::vector<fs::path> reversed(paths.rbegin(), paths.rend());
        CHECK(split_paths(reversed, 0.8, 42).test == a.test);
        CHECK(split_paths(paths, 0.8, 43).test != a.test);

        CHECK(split_paths(paths, 0.0, 1).train.empty());
        CHECK(split_paths(paths, 1.0, 1).test.empty());
        CHECK(error_of([&] { split_paths(paths, 1.5, 1); }).find("1.5") != std::string::npos);
        paths.push_back("leaf_7.jpg");
        CHECK(error_of([&] { split_paths(paths, 0.5, 1); }).find("leaf_7.jpg") !=
              std::string::npos);
    }

    TEST_CASE("the seeded draw is uniform") {
        // Over 6000 seeds, each of three paths drawn alone, and each pair drawn, about 2000
        // times (binomial sd 36.5; the bound is 5 sd). A biased index draw fails this.
        const std::vector<fs::path> paths = {"a", "b", "c"};
        std::map<std::string, int> singles, pairs;
        for (uint64_t seed = 0; seed < 6000; ++seed) {
            singles[sample_paths(paths, 1, seed)[0].string()]++;
            const auto two = sample_paths(paths, 2, seed);
            pairs[two[0].string() + two[1].string()]++;
        }
        for (const auto* counts : {&singles, &pairs}) {
            REQUIRE(counts->size() == 3);
            for (const auto& [drawn, n] : *counts) {
                CAPTURE(drawn);
                CHECK(std::abs(n - 2000) < 183);
            }
        }
    }

    TEST_CASE("sample_paths: seeded subset without repeats") {
        std::vector<fs::path> paths;
        for (int i = 0; i < 50; ++i) paths.push_back(fs::path("p").concat(std::to_string(i)));
        const auto a = sample_paths(paths, 10, 7);
        CHECK(a.size() == 10);
        CHECK(std::set<fs::path>(a.begin(), a.end()).size() == 10);
        for (const auto& p : a) CHECK(std::find(paths.begin(), paths.end(), p) != paths.end());
        CHECK(sample_paths(paths, 10, 7) == a);
        CHECK(sample_paths(paths, 10, 8) != a);
        CHECK(sample_paths(paths, 50, 7).size() == 50);
        CHECK(error_of([&] { sample_paths(paths, 51, 7); }).find("51 of 50") != std::string::npos);
    }

    TEST_CASE("Dataset preloads, resizes and reports the files that fail") {
        ScratchDir dir("dataset");
        std::vector<fs::path> paths;
        for (int i = 0; i < 3; ++i) {
            // Sizes 20x10, 30x20, 40x30, each a flat colour (10 + i, 100, 200).
            const int w = 20 + 10 * i, h = 10 + 10 * i;
            std::vector<uint8_t> pixels;
            for (int p = 0; p < w * h; ++p)
                pixels.insert(pixels.end(), {uint8_t(10 + i), 100, 200});
            paths.push_back(dir.path / ("img" + std::to_string(i) + ".png"));
            write_png(paths.back(), w, h, 3, pixels.data());
        }
        const fs::path broken = dir.path / "broken.jpg";
        write_bytes(broken, "");
        paths.insert(paths.begin() + 1, broken);

        const Dataset data(paths, {16, 8, true});
        REQUIRE(data.size() == 3);
        REQUIRE(data.failures().size() == 1);
        CHECK(data.failures()[0].path == broken);
        CHECK(data.failures()[0].reason.find("empty") != std::string::npos);
        CHECK(data[1].path == paths[2]);  // order kept, the broken file skipped
        CHECK(data[1].gray.shape() == Shape{1, 1, 8, 16});
        CHECK(data[1].rgb.shape() == Shape{1, 3, 8, 16});
        REQUIRE(data[1].original.has_value());
        CHECK(data[1].original->width == 30);
        CHECK(data[1].rgb.data()[0] == doctest::Approx(11 / 127.5 - 1).epsilon(1e-6));

        const auto batch = data.gray_batch({2, 0});
        CHECK(batch.shape() == Shape{2, 1, 8, 16});
        CHECK(batch.data()[0] == data[2].gray.data()[0]);
        CHECK(batch.data()[8 * 16] == data[0].gray.data()[0]);
        CHECK(data.rgb_batch({1}).to_vector() == data[1].rgb.to_vector());
        CHECK(error_of([&] { data.gray_batch({3}); }).find("no sample 3") != std::string::npos);
        CHECK_FALSE(Dataset(paths, {16, 8, false})[0].original.has_value());
    }
}
