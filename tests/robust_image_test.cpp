// Every kind of image file people point recolor at, each built here byte by byte
// (image_files.hpp): it loads with the documented policy (docs/robustness.md) or fails with a
// message that names the file and the reason. Expected pixels are computed by hand from the
// policy's formulas, noted beside each check.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <recolor/detector/score.hpp>
#include <recolor/io/io.hpp>

#include "image_files.hpp"

namespace fs = std::filesystem;
using namespace recolor;
using namespace recolor::io;
using namespace recolor::test_files;

namespace {

struct ScratchDir {
    fs::path path;
    explicit ScratchDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("recolor_robust_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ScratchDir() { fs::remove_all(path); }
};

fs::path write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

ImageRgb8 decode(const std::string& bytes, const std::string& name = "test") {
    return decode_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), name);
}

// The message of the Error that decoding throws ("" when it throws none).
std::string decode_error(const std::string& bytes, const std::string& name = "test",
                         size_t length = std::string::npos) {
    try {
        decode_image(reinterpret_cast<const unsigned char*>(bytes.data()),
                     std::min(length, bytes.size()), name);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::vector<uint8_t> rgb(std::initializer_list<int> values) {
    return std::vector<uint8_t>(values.begin(), values.end());
}

std::string bytes_of(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) out += static_cast<char>(v);
    return out;
}

// A 16-bit big-endian sample.
std::string wide(int v) {
    return bytes_of({v >> 8, v & 0xFF});
}

// A grey JPEG of 3 x 2 flat blocks, levels A..F (10, 40, 70 / 100, 130, 160).
std::string grid_jpeg(const std::string& exif = "") {
    FlatJpeg spec;
    spec.blocks_wide = 3, spec.blocks_high = 2;
    spec.levels = {{10, 40, 70, 100, 130, 160}};
    spec.exif = exif;
    return flat_jpeg(spec);
}

// A grey JPEG of two flat blocks (30, 220) with a restart interval (DRI) of `interval` MCUs and
// no restart marker in its data.
std::string two_block_jpeg(int interval) {
    FlatJpeg two;
    two.blocks_wide = 2;
    two.levels = {{30, 220}};
    std::string jpeg = flat_jpeg(two);
    jpeg.insert(jpeg.find("\xFF\xC0"), jpeg_segment(0xDD, bytes_of({0, interval})));
    return jpeg;
}

// The level at the centre of each 8x8 block, row by row.
std::vector<int> block_levels(const ImageRgb8& image) {
    std::vector<int> out;
    for (int by = 0; by < image.height / 8; ++by) {
        for (int bx = 0; bx < image.width / 8; ++bx) {
            out.push_back(image.pixels[((by * 8 + 4) * image.width + bx * 8 + 4) * 3]);
        }
    }
    return out;
}

detector::Pix2PixConfig tiny_config() {
    detector::Pix2PixConfig c;
    c.image_size = 32;
    c.ngf = 8;
    c.ndf = 8;
    c.seed = 3;
    return c;
}

}  // namespace

TEST_SUITE("robust") {
    TEST_CASE("empty and truncated JPEG, PNG and BMP files fail at every cut, naming the file") {
        std::vector<std::string> rows(4, std::string(15, '\x60'));
        const std::string png = png_file(5, 4, 8, 2, rows);
        FlatJpeg spec;
        spec.blocks_wide = 2, spec.blocks_high = 2;
        spec.levels = {{20, 90, 160, 230}, {128, 100, 128, 150}, {128, 128, 90, 128}};
        const std::string jpeg = flat_jpeg(spec);
        const std::string bmp =
            bmp_file(BmpSpec(3, 2, 24, {std::string(9, '\x40'), std::string(9, 7)}));

        const std::vector<std::pair<std::string, std::string>> files = {
            {"PNG", png}, {"JPEG", jpeg}, {"BMP", bmp}};
        for (const auto& [kind, file] : files) {
            CAPTURE(kind);
            REQUIRE(decode_error(file) == "");  // the whole file loads
            for (size_t cut = 0; cut < file.size(); ++cut) {
                CAPTURE(cut);
                const std::string message = decode_error(file, "cut.img", cut);
                CHECK(contains(message, "'cut.img'"));
            }
            // One byte short: the loader says the file was cut, whatever stb would make of it.
            CHECK(contains(decode_error(file, "cut.img", file.size() - 1), "truncated " + kind));
        }
        CHECK(contains(decode_error(png, "cut.img", 0), "empty (0 bytes)"));

        // From a file on disk, as the CLI and the dataset see it.
        ScratchDir dir("truncated");
        const fs::path half = write_file(dir.path / "half.jpg", jpeg.substr(0, jpeg.size() / 2));
        std::string message;
        try {
            load_image(half);
        } catch (const Error& e) {
            message = e.what();
        }
        CHECK(contains(message, half.string()));
        CHECK(contains(message, "truncated JPEG"));
    }

    TEST_CASE("a real JPEG cut in its image data is refused, not padded with grey") {
        const fs::path dir = fs::path(RECOLOR_DATA_DIR) / "plantvillage/color/Potato___healthy";
        if (!fs::is_directory(dir)) {
            MESSAGE("skipped: no test images at " << dir.string());
            return;
        }
        std::ifstream in(list_images(dir)[0], std::ios::binary);
        const std::string whole{std::istreambuf_iterator<char>(in), {}};
        REQUIRE(decode_error(whole) == "");
        for (size_t cut : {whole.size() / 2, whole.size() - 2, whole.size() - 1}) {
            CAPTURE(cut);
            CHECK(contains(decode_error(whole, "leaf.jpg", cut), "no end-of-image marker"));
        }
    }

    TEST_CASE("the content decides the format, not the extension") {
        ScratchDir dir("content");
        const std::string png = png_file(2, 1, 8, 2, {bytes_of({10, 20, 30, 40, 50, 60})});
        const ImageRgb8 as_png = load_image(write_file(dir.path / "a.png", png));
        const ImageRgb8 as_jpg = load_image(write_file(dir.path / "a.jpg", png));
        CHECK(as_png.pixels == rgb({10, 20, 30, 40, 50, 60}));
        CHECK(as_jpg.pixels == as_png.pixels);
        const std::string jpeg = grid_jpeg();
        CHECK(load_image(write_file(dir.path / "b.png", jpeg)).width == 24);

        // Renamed files of other kinds: each named, or its first bytes shown.
        struct Case {
            std::string bytes, expected;
        };
        const Case cases[] = {
            {"notes about leaves\n", "not a JPEG, PNG or BMP image (it begins \"notes ab\")"},
            {std::string("II*\0\x08\0\0\0", 8) + std::string(32, '\0'), "is a TIFF file"},
            {std::string("MM\0*\0\0\0\x08", 8) + std::string(32, '\0'), "is a TIFF file"},
            {"GIF89a" + std::string(20, '\0'), "is a GIF file"},
            {std::string("\0\0\0\x18"
                         "ftypheic",
                         12) +
                 std::string(20, '\0'),
             "HEIF"},
            {std::string("RIFF\x10\0\0\0WEBPVP8 ", 16) + std::string(20, '\0'), "is a WebP file"},
        };
        for (const Case& c : cases) {
            const fs::path path = write_file(dir.path / "renamed.png", c.bytes);
            std::string message;
            try {
                load_image(path);
            } catch (const Error& e) {
                message = e.what();
            }
            CAPTURE(message);
            CHECK(contains(message, path.string()));
            CHECK(contains(message, c.expected));
        }
    }

    TEST_CASE("16-bit PNG: v * 257 loads as v, other values round to the nearest level") {
        // Grey: 0, 257, 77 * 257, 65535, then 128 -> 0 (128/257 = 0.498), 129 -> 1 (0.502),
        // 384 -> 1 (1.494), 386 -> 2 (1.502).
        std::string row;
        for (int v : {0, 257, 77 * 257, 65535, 128, 129, 384, 386}) row += wide(v);
        const ImageRgb8 grey = decode(png_file(8, 1, 16, 0, {row}));
        std::vector<uint8_t> expected;
        for (int v : {0, 1, 77, 255, 0, 1, 1, 2}) expected.insert(expected.end(), 3, uint8_t(v));
        CHECK(grey.pixels == expected);

        // RGB: (12, 200, 99) * 257 and (65535, 0, 128 * 257).
        const std::string rgb_row = wide(12 * 257) + wide(200 * 257) + wide(99 * 257) +
                                    wide(65535) + wide(0) + wide(128 * 257);
        CHECK(decode(png_file(2, 1, 16, 2, {rgb_row})).pixels == rgb({12, 200, 99, 255, 0, 128}));

        // RGBA: (200, 100, 50) at alpha 128, to 8 bits then on black: 100.4, 50.2, 25.1.
        const std::string rgba_row =
            wide(200 * 257) + wide(100 * 257) + wide(50 * 257) + wide(128 * 257);
        CHECK(decode(png_file(1, 1, 16, 6, {rgba_row})).pixels == rgb({100, 50, 25}));

        // Grey + alpha: 100 at alpha 51 -> 100 * 51 / 255 = 20.
        CHECK(decode(png_file(1, 1, 16, 4, {wide(100 * 257) + wide(51 * 257)})).pixels ==
              rgb({20, 20, 20}));
    }

    TEST_CASE("grey, grey + alpha, palettes, colour keys, transparent backgrounds, 1-bit") {
        // Grey is replicated.
        CHECK(decode(png_file(3, 1, 8, 0, {bytes_of({0, 77, 255})})).pixels ==
              rgb({0, 0, 0, 77, 77, 77, 255, 255, 255}));

        // Grey + alpha on black: (100, 51) -> 20, (200, 255) -> 200, (200, 0) -> 0.
        CHECK(decode(png_file(3, 1, 8, 4, {bytes_of({100, 51, 200, 255, 200, 0})})).pixels ==
              rgb({20, 20, 20, 200, 200, 200, 0, 0, 0}));

        // Palette with tRNS: entry 0 transparent, entry 1 at alpha 128, entry 2 beyond the
        // tRNS list (opaque). (0, 255, 0) at 128 -> 255 * 128 / 255 = 128.
        const std::string palette = bytes_of({255, 0, 0, 0, 255, 0, 10, 20, 30});
        CHECK(decode(png_file(3, 1, 8, 3, {bytes_of({0, 1, 2})},
                              {{"PLTE", palette}, {"tRNS", bytes_of({0, 128})}}))
                  .pixels == rgb({0, 0, 0, 0, 128, 0, 10, 20, 30}));

        // Colour keys (tRNS on grey and RGB): the keyed colour is transparent, so black.
        CHECK(decode(png_file(2, 1, 8, 0, {bytes_of({77, 200})}, {{"tRNS", wide(77)}})).pixels ==
              rgb({0, 0, 0, 200, 200, 200}));
        CHECK(decode(png_file(2, 1, 8, 2, {bytes_of({10, 20, 30, 11, 20, 30})},
                              {{"tRNS", wide(10) + wide(20) + wide(30)}}))
                  .pixels == rgb({0, 0, 0, 11, 20, 30}));

        // RGBA whose background is white but fully transparent: a segmented leaf. The leaf
        // (the centre 2x2, opaque green) keeps its colour; the background becomes black.
        std::vector<std::string> rows;
        for (int y = 0; y < 4; ++y) {
            std::string row;
            for (int x = 0; x < 4; ++x) {
                const bool leaf = x >= 1 && x <= 2 && y >= 1 && y <= 2;
                row += leaf ? bytes_of({30, 160, 40, 255}) : bytes_of({255, 255, 255, 0});
            }
            rows.push_back(row);
        }
        const ImageRgb8 leaf = decode(png_file(4, 4, 8, 6, rows));
        for (int i = 0; i < 16; ++i) {
            const bool inside = (i % 4 >= 1 && i % 4 <= 2 && i / 4 >= 1 && i / 4 <= 2);
            CAPTURE(i);
            CHECK(leaf.pixels[i * 3 + 1] == (inside ? 160 : 0));
        }

        // 1-bit grey, 10 pixels 1010110000 packed from the top bit: 0 -> 0, 1 -> 255.
        const ImageRgb8 bits = decode(png_file(10, 1, 1, 0, {bytes_of({0xAC, 0x00})}));
        std::vector<uint8_t> expected;
        for (int b : {1, 0, 1, 0, 1, 1, 0, 0, 0, 0}) expected.insert(expected.end(), 3, b * 255);
        CHECK(bits.pixels == expected);
    }

    TEST_CASE("BMP: 24-bit bottom-up and top-down, 32-bit with and without alpha, 8-bit grey") {
        // Rows top first, bytes in the file's B, G, R order.
        const std::vector<std::string> rows = {bytes_of({0, 0, 255, 0, 255, 0, 255, 0, 0}),
                                               bytes_of({30, 20, 10, 60, 50, 40, 90, 80, 70})};
        const auto top_row_first = rgb({255, 0, 0, 0, 255, 0, 0, 0, 255,  //
                                        10, 20, 30, 40, 50, 60, 70, 80, 90});
        BmpSpec spec(3, 2, 24, rows);
        CHECK(decode(bmp_file(spec)).pixels == top_row_first);
        spec.top_down = true;
        CHECK(decode(bmp_file(spec)).pixels == top_row_first);

        // 32-bit BI_RGB: the fourth byte is padding (here 127), not alpha.
        const BmpSpec padded(1, 1, 32, {bytes_of({50, 100, 200, 127})});
        CHECK(decode(bmp_file(padded)).pixels == rgb({200, 100, 50}));

        // 32-bit V4 with an alpha mask: (200, 100, 50) at 128 on black -> 100, 50, 25.
        BmpSpec alpha(1, 1, 32, {bytes_of({50, 100, 200, 128})});
        alpha.v4_alpha = true;
        CHECK(decode(bmp_file(alpha)).pixels == rgb({100, 50, 25}));

        // 8-bit with a grey palette.
        BmpSpec grey(3, 1, 8, {bytes_of({0, 77, 255})});
        for (uint32_t i = 0; i < 256; ++i) grey.palette.push_back(i * 0x010101u);
        CHECK(decode(bmp_file(grey)).pixels == rgb({0, 0, 0, 77, 77, 77, 255, 255, 255}));
    }

    TEST_CASE("CMYK JPEG: Adobe CMYK and YCCK decode as Pillow does, others are refused") {
        // Adobe CMYK stores inverted inks (255 = none); Pillow converts with
        // R = (255 - C)(255 - K) / 255 on the inks, i.e. stored C * stored K / 255.
        // Block 1: stored (200, 100, 50, 128) -> 100.4, 50.2, 25.1; block 2: K = 255 (no ink).
        FlatJpeg cmyk;
        cmyk.blocks_wide = 2;
        cmyk.levels = {{200, 200}, {100, 100}, {50, 50}, {128, 255}};
        cmyk.adobe_transform = 0;
        CHECK(block_levels(decode(flat_jpeg(cmyk))) == std::vector<int>{100, 200});
        const ImageRgb8 adobe = decode(flat_jpeg(cmyk));
        CHECK(std::vector<uint8_t>(adobe.pixels.begin(), adobe.pixels.begin() + 3) ==
              rgb({100, 50, 25}));
        CHECK(std::vector<uint8_t>(adobe.pixels.begin() + 8 * 3,
                                   adobe.pixels.begin() + 8 * 3 + 3) == rgb({200, 100, 50}));

        // YCCK: the inverted inks' complements (55, 155, 205) as JFIF YCbCr, K apart. The
        // same inks as above, so the same colours, within the YCbCr rounding (2 levels).
        FlatJpeg ycck = cmyk;
        const double r = 55, g = 155, b = 205;
        const int y = static_cast<int>(std::lround(0.299 * r + 0.587 * g + 0.114 * b));
        const int cb = static_cast<int>(std::lround(128 - 0.168736 * r - 0.331264 * g + 0.5 * b));
        const int cr = static_cast<int>(std::lround(128 + 0.5 * r - 0.418688 * g - 0.081312 * b));
        ycck.levels = {{static_cast<uint8_t>(y), static_cast<uint8_t>(y)},
                       {static_cast<uint8_t>(cb), static_cast<uint8_t>(cb)},
                       {static_cast<uint8_t>(cr), static_cast<uint8_t>(cr)},
                       {128, 255}};
        ycck.adobe_transform = 2;
        const ImageRgb8 converted = decode(flat_jpeg(ycck));
        const auto expected = rgb({100, 50, 25, 200, 100, 50});
        for (int c = 0; c < 6; ++c) {
            CAPTURE(c);
            const int pixel = c < 3 ? c : 8 * 3 + c - 3;
            CHECK(std::abs(converted.pixels[pixel] - expected[c]) <= 2);
        }

        // Four components without Adobe's marker, or with its YCbCr transform: refused.
        FlatJpeg unmarked = cmyk;
        unmarked.adobe_transform = -1;
        CHECK(contains(decode_error(flat_jpeg(unmarked), "scan.jpg"),
                       "'scan.jpg': unsupported CMYK JPEG"));
        unmarked.adobe_transform = 1;
        CHECK(contains(decode_error(flat_jpeg(unmarked)), "unsupported CMYK JPEG"));
    }

    TEST_CASE("a JPEG Huffman table of over 256 codes is refused before stb reads it") {
        // stb_image 2.27 writes past its 257-entry tables on one (fuzz/image_fuzzer.cpp found
        // it): a DC table with 255 + 45 = 300 codes, first before the file's own tables.
        std::string table = bytes_of({0x00, 255, 45}) + std::string(14, '\0');
        table += std::string(300, '\x01');
        std::string jpeg = grid_jpeg();
        jpeg.insert(2, jpeg_segment(0xC4, table));
        CHECK(contains(decode_error(jpeg, "evil.jpg"),
                       "'evil.jpg': corrupt JPEG: a Huffman table claims 300 codes"));
        // After the image data, where stb reads tables for a next scan (the fuzzer's finding).
        std::string after = grid_jpeg();
        after.insert(after.size() - 2, jpeg_segment(0xC4, table));
        CHECK(contains(decode_error(after), "corrupt JPEG: a Huffman table claims 300 codes"));
        // The same counts in a segment too short for the symbols.
        std::string short_table = grid_jpeg();
        short_table.insert(2, jpeg_segment(0xC4, bytes_of({0x00, 0, 0, 3}) + std::string(13, '\0') +
                                                     bytes_of({1, 2})));
        CHECK(contains(decode_error(short_table), "corrupt JPEG: a Huffman table claims 3 codes"));
    }

    TEST_CASE("a JPEG that stb would decode from memory it never set is refused") {
        // stb_image 2.27 does not clear its decoder, so a missing table is whatever memory held:
        // CI's fuzzer found this file (DC table 0 defined, its one scan asking for AC table 0
        // too), whose decoding then shifted by a negative count.
        const std::string found = base64_decode(
            "/9j/4QAiRXhpZgAAQk0q9PT0AAABABIBAwABAAAABgAAAAAAAAD/2wBDAAEBAQEBAQEBAQEBAQEB"
            "AQEBAQEBAQEBAQEBAQEBBQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAAI"
            "ABABAREA/8QAHwAAAAAMAAAAAAAAAAAAAAAAAAECAwQFBgcICQoL/9oACAEBAAA/AKE9d8H/2Q==");
        CHECK(contains(decode_error(found, "found.jpg"),
                       "'found.jpg': corrupt JPEG: a scan of component 1 uses AC Huffman table 0, "
                       "which the file does not define before it"));

        // A good file loads; without its quantization table, or with its AC table defined only
        // after the scan, it does not.
        FlatJpeg grey;
        grey.levels = {{90}};
        const std::string good = flat_jpeg(grey);
        REQUIRE(decode_error(good) == "");
        const size_t dqt = good.find("\xFF\xDB"), dqt_end = good.find("\xFF\xC0");
        REQUIRE((dqt != std::string::npos && dqt_end != std::string::npos));
        std::string no_dqt = good;
        no_dqt.erase(dqt, dqt_end - dqt);
        CHECK(contains(decode_error(no_dqt), "uses quantization table 0, which the file does not"));
        std::string late_ac = good;
        const size_t ac = late_ac.find(std::string("\xFF\xC4\x00\x14\x10", 5));
        REQUIRE(ac != std::string::npos);
        const std::string ac_segment = late_ac.substr(ac, 22);
        late_ac.erase(ac, 22);
        late_ac.insert(late_ac.size() - 2, ac_segment);
        CHECK(contains(decode_error(late_ac), "uses AC Huffman table 0, which the file does not"));

        // Three components, one scan that codes only the first: the others would be left as
        // whatever memory held.
        FlatJpeg colour;
        colour.levels = {{120}, {90}, {160}};
        std::string one_scan = flat_jpeg(colour);
        const std::string scan3("\xFF\xDA\x00\x0C\x03\x01\x00\x02\x00\x03\x00\x00\x3F\x00", 14);
        const size_t sos = one_scan.find(scan3);
        REQUIRE(sos != std::string::npos);
        one_scan.replace(sos, scan3.size(),
                         std::string("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10));
        CHECK(contains(decode_error(one_scan), "corrupt JPEG: frame component 2 is in no scan"));

        // Progressive: a component's first scan must be its first DC scan, where stb clears the
        // coefficients; here the one scan is an AC scan (spectral selection 1 to 63).
        std::string ac_first = good;
        ac_first[ac_first.find("\xFF\xC0") + 1] = '\xC2';
        const size_t spectral = ac_first.find(std::string("\xFF\xDA\x00\x08\x01\x01\x00\x00", 8));
        REQUIRE(spectral != std::string::npos);
        ac_first[spectral + 7] = '\x01';
        CHECK(contains(decode_error(ac_first),
                       "a progressive scan of component 1 comes before its first DC scan"));

        // A restart interval (DRI) asks for restart markers in the data; stb stops at the first
        // one missing. Two MCUs: an interval of 2 needs none, an interval of 1 needs one.
        CHECK(decode_error(two_block_jpeg(2)) == "");
        CHECK(contains(decode_error(two_block_jpeg(1)),
                       "corrupt JPEG: a scan holds 0 restart markers where "
                       "its restart interval of 1 needs 1"));

        // 12-bit samples (extended JPEG), which stb does not decode, are named as such.
        std::string twelve_bit = good;
        twelve_bit[twelve_bit.find("\xFF\xC0") + 4] = '\x0C';
        CHECK(contains(decode_error(twelve_bit), "unsupported JPEG: 12-bit samples"));

        // An arithmetic-coded frame (SOF9), which stb does not decode, is named as such.
        std::string arithmetic = good;
        arithmetic[arithmetic.find("\xFF\xC0") + 1] = '\xC9';
        CHECK(contains(decode_error(arithmetic),
                       "unsupported JPEG: its frame (SOF9) is "
                       "arithmetic-coded"));
    }

    TEST_CASE("a JPEG scan whose data does not hold every block is refused") {
        // stb_image 2.27 takes bits past the end of a scan's data as if they were there (its
        // bit count goes negative: CI's fuzzer found this file, a shift by 32) and fills the
        // rest of the image with zeros, silently.
        const std::string found = base64_decode(
            "/9j/4AAQTU0AKgABAQAAAQABAAD/2wCEAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0a"
            "HBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDIBCQkJDAsMGA0NGDIhHCEyMjIyMjIyMjIy"
            "MjIyMjIyMjIyMjIyMjIyMjIwMDAwNjE3MTE3ODczNzk2MTAzODI3Of/AABEIABAAEgMBIgACEQED"
            "EQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAE"
            "EQUSITFBBhNRYQciiusxgZGhCCNCscEVUtHwJDVicoIJChYXGBkaJSYnKCkqMjI4Mzk0OkNERUZH"
            "SElKU1RVVldYWVpjdGVmZ2hpnHN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqinKSlpqeoqaqys7S1"
            "tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAA"
            "AAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITAG7r6u9mFxEyIygQgUQpGh"
            "scEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3OMfFvLJFRkdISUpTVFVWV1hZWmNkZWZnaGlq"
            "c3R1dnd4eXqCg4SFhnJ3dnWSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV"
            "1tfY2dri4+Tl5ufo6eqy8/T19vf4+fr/2gAMAwEAAhEDEQA/AGaNL4+w/wBnW+AAxkOl6R9Mb/tJ"
            "+uNvvnxUUJtbn+zPtD2VyUDlftV3PquM7fu+Xjy+nOfvAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkS"
            "Ew8UHRofHh0aHBwgghmuLi2kS2aVVuruJD35yM+VCMyr8vHOeoHGcun9bhybf/yP/9k=");
        CHECK(
            contains(decode_error(found, "found.jpg"),
                     "'found.jpg': corrupt JPEG: a scan's data ends before the end of MCU 2 of 2"));

        // A whole file with its data cut short and an end-of-image marker put back: grid_jpeg's
        // six blocks take 10 bytes of data (15 bits, then 13 each); 3 bytes hold the first block
        // and part of the second.
        const std::string grid = grid_jpeg();
        REQUIRE(decode_error(grid) == "");
        const size_t data = grid.find("\xFF\xDA") + 10;  // after the 8-byte scan header
        std::string cut = grid.substr(0, data + 3) + "\xFF\xD9";
        CHECK(contains(
            decode_error(cut),
            "corrupt JPEG: a scan's data ends before the end of MCU 2 of 6: the image data was "
            "cut short or damaged"));

        // A code the DC table lacks: its twelve codes are 0000 to 1011, so 1111 is none.
        std::string bad_code = grid;
        bad_code[data] = '\xF0';
        CHECK(contains(decode_error(bad_code),
                       "a scan's data holds a code its Huffman table does not define (in MCU 1"));

        // A restart marker in the wrong place: with an interval of one MCU, the marker must
        // follow the first block's bits; here it follows both blocks'.
        std::string late_restart = two_block_jpeg(1);
        late_restart.insert(late_restart.size() - 2, "\xFF\xD0");
        CHECK(contains(decode_error(late_restart),
                       "a scan's data goes on where a restart marker should end its interval "
                       "(after MCU 1 of 2)"));

        // A file a helper crafted against this check: a second first-pass scan of an AC band
        // sets a coefficient to 16384 << 2, which stb stores in 16 bits as 0, so the next
        // refinement scan reads one correction bit fewer than a decoder that still counts it.
        // Followed as stb follows it, the data ends early (stb's count went to -13).
        const std::string desync = base64_decode(
            "/9j/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
            "AQEBAQEBAQEBAQEBAQH/wgALCAAIABgBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAA"
            "AAAf/8QAFhAAAwAAAAAAAAAAAAAAAAAAAQ8A/9oACAEBAAECAjEk/wD/2gAIAQEAAQECYAAT/8QA"
            "FhABAAAAAAAAAAAAAAAAAAIAEAHg/9oACAEBAAECIYABgAP/2Q==");
        CHECK(contains(decode_error(desync),
                       "corrupt JPEG: a scan's data ends before the end of MCU 1 of 3"));

        // DC differences of +32767 in every block: stb multiplies the running DC by the
        // quantizer (here 65535, a 16-bit table) or by 2^Al (here 2^13) in an int, which
        // overflows. A real 8-bit JPEG's DC stays under 2^11.
        for (const char* crafted :
             {"/9j/2wCDEP//////////////////////////////////////////////////////////////////"
              "////////////////////////////////////////////////////////////////////////////"
              "/////////////////////////////8EACwgACAAQAQERAP/EABUAAgAAAAAAAAAAAAAAAAAAAAAP"
              "/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAAPwD/AP8Af/8Av//Z",
              "/9j/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
              "AQEBAQEBAQEBAQEBAQH/wgALCAAgACABAREA/8QAFQACAAAAAAAAAAAAAAAAAAAAAA//2gAIAQEA"
              "AAAN/wD/AP8A/wD/AP8A/wD/AP8A/wD/AP8A/wD/AP8A/wD/AP8A/wD/AP8A/wD/AP8A/wD/AP8A"
              "/wD/AP8A/wD/AP/Z"}) {
            CHECK(contains(decode_error(base64_decode(crafted)),
                           "corrupt JPEG: a scan's DC coefficient grows past 32768 (in MCU 2 of"));
        }

        // A second helper's crafted files. A scan that lists a component twice (T.81 forbids it)
        // with other tables the second time: stb decodes both entries with the last one's.
        FlatJpeg colour;
        colour.levels = {{120}, {90}, {160}};
        std::string twice = flat_jpeg(colour);
        const std::string scan3("\xFF\xDA\x00\x0C\x03\x01\x00\x02\x00\x03\x00", 11);
        const size_t sos = twice.find(scan3);
        REQUIRE(sos != std::string::npos);
        twice[sos + 7] = '\x01';  // the second entry names component 1 again
        CHECK(contains(decode_error(twice), "corrupt JPEG: a scan lists component 1 twice"));
        // A table of 256 codes, none longer than 9 bits (255 of 8, one of 9): stb's 9-bit lookup
        // cannot hold the last, which it then reads as 10 bits. Refused where it is defined.
        std::string counts(16, '\0');
        counts[7] = '\xFF';
        counts[8] = '\x01';
        std::string symbols;
        for (int v = 0; v < 256; ++v) symbols += static_cast<char>(v);
        std::string short_codes = grid_jpeg();
        short_codes.insert(2, jpeg_segment(0xC4, std::string(1, '\0') + counts + symbols));
        CHECK(contains(decode_error(short_codes),
                       "corrupt JPEG: a Huffman table of 256 codes, none longer than 9 bits"));
        // The same 256 codes with the last one 10 bits long: stb reads them all; the file loads.
        counts[8] = '\0';
        counts[9] = '\x01';
        std::string long_last = grid_jpeg();
        long_last.insert(2, jpeg_segment(0xC4, std::string(1, '\0') + counts + symbols));
        CHECK(decode_error(long_last) == "");

        // Progressive (image_files.hpp): it loads; cut inside its last scan, it does not.
        const std::string progressive = progressive_jpeg();
        REQUIRE(decode_error(progressive) == "");
        CHECK(decode(progressive).width == 16);
        const size_t last_scan = progressive.rfind("\xFF\xDA");
        // Marker and 8-byte header, then 40 of the scan's 49 bytes of data: past its third and
        // last restart marker, inside its fourth MCU.
        const std::string cut_progressive = progressive.substr(0, last_scan + 10 + 40) + "\xFF\xD9";
        CHECK(contains(decode_error(cut_progressive),
                       "corrupt JPEG: a scan's data ends before the end of MCU 4 of 4"));
    }

    TEST_CASE("EXIF orientation turns the pixels upright (EXIF 2.32, tag 0x0112)") {
        // Stored blocks:   A B C     A..F = 10, 40, 70, 100, 130, 160
        //                  D E F
        // Upright, from where each orientation puts the stored row 0 and column 0.
        const int A = 10, B = 40, C = 70, D = 100, E = 130, F = 160;
        struct Case {
            int orientation, width, height;
            std::vector<int> levels;
        };
        const Case cases[] = {
            {1, 24, 16, {A, B, C, D, E, F}},  // row 0 top, column 0 left
            {2, 24, 16, {C, B, A, F, E, D}},  // mirrored left-right
            {3, 24, 16, {F, E, D, C, B, A}},  // rotated 180
            {4, 24, 16, {D, E, F, A, B, C}},  // mirrored top-bottom
            {5, 16, 24, {A, D, B, E, C, F}},  // transposed
            {6, 16, 24, {D, A, E, B, F, C}},  // rotated 90 clockwise
            {7, 16, 24, {F, C, E, B, D, A}},  // transverse
            {8, 16, 24, {C, F, B, E, A, D}},  // rotated 90 counter-clockwise
        };
        for (const Case& c : cases) {
            for (bool big_endian : {false, true}) {
                CAPTURE(c.orientation);
                CAPTURE(big_endian);
                const ImageRgb8 image = decode(grid_jpeg(exif_tiff(c.orientation, big_endian)));
                CHECK(image.width == c.width);
                CHECK(image.height == c.height);
                CHECK(block_levels(image) == c.levels);
            }
        }

        // PNG's eXIf chunk: a 3x2 grey image, one pixel per cell, orientation 6.
        const std::string png = png_file(3, 2, 8, 0, {bytes_of({A, B, C}), bytes_of({D, E, F})},
                                         {{"eXIf", exif_tiff(6, false)}});
        const ImageRgb8 turned = decode(png);
        CHECK(turned.width == 2);
        CHECK(turned.height == 3);
        std::vector<int> levels;
        for (size_t i = 0; i < turned.pixels.size(); i += 3) levels.push_back(turned.pixels[i]);
        CHECK(levels == std::vector<int>{D, A, E, B, F, C});

        // Damaged EXIF (cut IFD, unknown byte order, orientation 0 or 9): read as upright.
        std::string cut = exif_tiff(6, false);
        cut.resize(14);
        for (const std::string& exif :
             {cut, "XX" + exif_tiff(6, false).substr(2), exif_tiff(0, false), exif_tiff(9, true)}) {
            const ImageRgb8 image = decode(grid_jpeg(exif));
            CHECK(image.width == 24);
            CHECK(block_levels(image) == std::vector<int>{A, B, C, D, E, F});
        }
    }

    TEST_CASE(
        "a sideways photo with its EXIF tag scores as the upright photo, and heatmaps match") {
        // Upright: 3 x 2 blocks G. Stored sideways (orientation 6 shows it upright): 2 x 3
        // blocks S with S(sx, sy) = G(2 - sy, sx), the inverse of orientation 6's turn.
        const std::vector<uint8_t> g = {30, 90, 150, 60, 120, 210};
        FlatJpeg upright;
        upright.blocks_wide = 3, upright.blocks_high = 2;
        upright.levels = {g, std::vector<uint8_t>(6, 110), std::vector<uint8_t>(6, 140)};
        FlatJpeg sideways = upright;
        sideways.blocks_wide = 2, sideways.blocks_high = 3;
        for (auto& plane : sideways.levels) {
            const std::vector<uint8_t> source = plane;
            for (int sy = 0; sy < 3; ++sy) {
                for (int sx = 0; sx < 2; ++sx) plane[sy * 2 + sx] = source[sx * 3 + (2 - sy)];
            }
        }
        sideways.exif = exif_tiff(6, false);
        const ImageRgb8 a = decode(flat_jpeg(upright));
        const ImageRgb8 b = decode(flat_jpeg(sideways));
        REQUIRE(b.width == a.width);
        REQUIRE(b.height == a.height);
        CHECK(b.pixels == a.pixels);

        detector::Pix2Pix<CPU> model(tiny_config());
        auto scored = detector::score_images(model, {a, b});
        CHECK(scored[0].score.sum == scored[1].score.sum);
        CHECK(scored[0].map == scored[1].map);
        const ImageRgb8 heat = detector::heatmap_image(scored[1].map, 32, b.width, b.height);
        CHECK(heat.width == 24);
        CHECK(heat.height == 16);
    }

    TEST_CASE("1x1, odd and large images load, score, and get heatmaps of their own size") {
        detector::Pix2Pix<CPU> model(tiny_config());
        for (auto [w, h] : {std::pair{1, 1}, std::pair{255, 257}, std::pair{3000, 2000}}) {
            CAPTURE(w);
            CAPTURE(h);
            std::vector<std::string> rows;
            for (int y = 0; y < h; ++y) {
                std::string row(static_cast<size_t>(w) * 3, '\0');
                for (int x = 0; x < w; ++x) {
                    row[x * 3] = static_cast<char>(x * 255 / std::max(w - 1, 1));
                    row[x * 3 + 1] = static_cast<char>(y * 255 / std::max(h - 1, 1));
                    row[x * 3 + 2] = 90;
                }
                rows.push_back(std::move(row));
            }
            const ImageRgb8 image = decode(png_file(w, h, 8, 2, rows));
            REQUIRE(image.width == w);
            REQUIRE(image.height == h);
            CHECK(image.pixels[(static_cast<size_t>(h - 1) * w + w - 1) * 3 + 1] ==
                  (h > 1 ? 255 : 0));
            auto scored = detector::score_images(model, {image});
            CHECK(std::isfinite(scored[0].score.sum));
            const ImageRgb8 heat = detector::heatmap_image(scored[0].map, 32, w, h);
            CHECK(heat.width == w);
            CHECK(heat.height == h);
        }
    }

    TEST_CASE("headers that claim huge sizes are refused before decoding") {
        // PNG 10000 x 10000, JPEG 65535 x 65535, BMP 100000 x 100000: none has the data.
        // (stb refuses a PNG over 1 GiB decoded by itself, so the PNG stays under that.)
        std::string png = png_file(1, 1, 8, 0, {bytes_of({0})});
        const std::string big_ihdr = png_chunk("IHDR", ihdr(10000, 10000, 8, 2));
        png.replace(8, big_ihdr.size(), big_ihdr);
        CHECK(contains(decode_error(png, "huge.png"),
                       "'huge.png' is 10000x10000 = 100000000 pixels, over the limit of "
                       "50000000"));

        std::string jpeg = grid_jpeg();
        const size_t frame = jpeg.find("\xFF\xC0");
        REQUIRE(frame != std::string::npos);
        jpeg.replace(frame + 5, 4, "\xFF\xFF\xFF\xFF");
        CHECK(contains(decode_error(jpeg), "65535x65535 = 4294836225 pixels, over the limit"));

        std::string bmp = bmp_file(BmpSpec(1, 1, 24, {bytes_of({1, 2, 3})}));
        bmp.replace(18, 8, bytes_of({0xA0, 0x86, 0x01, 0, 0xA0, 0x86, 0x01, 0}));  // 100000
        CHECK(contains(decode_error(bmp), "100000x100000 = 10000000000 pixels, over the limit"));
        bmp.replace(22, 4, bytes_of({0x60, 0x79, 0xFE, 0xFF}));  // -100000: top-down rows
        CHECK(contains(decode_error(bmp), "100000x100000 = 10000000000 pixels, over the limit"));

        // OS/2 1.x BMP, 16-bit sizes in a 12-byte header: 65535 x 65535.
        std::string os2 = "BM" + bytes_of({0, 0, 0, 0, 0, 0, 0, 0, 26, 0, 0, 0, 12, 0, 0, 0});
        os2 += bytes_of({0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 24, 0}) + std::string(12, '\0');
        CHECK(contains(decode_error(os2), "65535x65535 = 4294836225 pixels, over the limit"));

        // Under the limit (7000 x 7000 = 49 Mpixel) but with one row of data: stb's error.
        std::string short_png = png_file(1, 1, 8, 0, {bytes_of({0})});
        short_png.replace(8, big_ihdr.size(), png_chunk("IHDR", ihdr(7000, 7000, 8, 0)));
        CHECK(contains(decode_error(short_png), "(stb: "));
    }

    TEST_CASE("EXIF orientation is applied the same way in training (Dataset) and scoring") {
        // grid_jpeg is 24 x 16 stored. With orientation 8 it is 16 x 24 upright: the training
        // sample of the tagged file equals that of the same pixels stored upright (as a PNG),
        // at a non-square size, where a missed turn would show.
        ScratchDir dir("exif_policy");
        const ImageRgb8 upright = decode(grid_jpeg(exif_tiff(8, false)));
        REQUIRE(upright.width == 16);
        REQUIRE(upright.height == 24);
        const fs::path tagged = write_file(dir.path / "tagged.jpg", grid_jpeg(exif_tiff(8, false)));
        const fs::path plain = dir.path / "plain.png";
        write_png(plain, upright);
        const Dataset data({tagged, plain}, {8, 12});
        REQUIRE(data.size() == 2);
        CHECK(data[0].rgb.to_vector() == data[1].rgb.to_vector());
        CHECK(data[0].gray.to_vector() == data[1].gray.to_vector());
        const Dataset stored({write_file(dir.path / "untagged.jpg", grid_jpeg())}, {8, 12});
        CHECK(stored[0].rgb.to_vector() != data[0].rgb.to_vector());
    }

    TEST_CASE("alpha is composited the same way in training (Dataset) and scoring (load_image)") {
        ScratchDir dir("alpha_policy");
        std::vector<std::string> rows;
        for (int y = 0; y < 8; ++y) {
            std::string row;
            for (int x = 0; x < 8; ++x) {
                const int alpha = (x >= 2 && x < 6 && y >= 2 && y < 6) ? 255 : (x == 0 ? 0 : 90);
                row += bytes_of({40 + 20 * x, 180, 60, alpha});
            }
            rows.push_back(row);
        }
        const fs::path path = write_file(dir.path / "leaf.png", png_file(8, 8, 8, 6, rows));
        const Dataset data({path}, {8, 8});
        REQUIRE(data.size() == 1);
        const ImageRgb8 scored = load_image(path);
        CHECK(data[0].rgb.to_vector() == to_rgb_tensor(scored).to_vector());
        // A transparent pixel is black, -1 in the tensor; (60, 180, 60) at alpha 90 on black:
        // 21.2, 63.5, 21.2 -> 21, 64, 21.
        CHECK(data[0].rgb.data()[0] == -1.0f);
        CHECK(std::vector<uint8_t>(scored.pixels.begin() + 3, scored.pixels.begin() + 6) ==
              rgb({21, 64, 21}));
    }
}
