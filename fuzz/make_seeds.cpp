// Writes the fuzzers' seed corpus into <dir>/image and <dir>/checkpoint: one small file of each
// kind the loaders handle (tests/image_files.hpp builds the images byte by byte; stb_image_write
// adds compressed PNG and subsampled JPEG), and checkpoints of a minimal model. Generated on each
// run, so no binary corpus is kept in the repository.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "../tests/image_files.hpp"
#include "recolor/detector/checkpoint.hpp"
#include "recolor/io/image.hpp"

namespace fs = std::filesystem;
using namespace recolor::test_files;

namespace {

void write(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string bytes_of(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) out += static_cast<char>(v);
    return out;
}

void image_seeds(const fs::path& dir) {
    // PNG: grey, grey + alpha, palette + tRNS, 16-bit RGB, RGBA, 1-bit, with eXIf.
    write(dir / "grey.png", png_file(3, 2, 8, 0, {bytes_of({0, 77, 255}), bytes_of({1, 2, 3})}));
    write(dir / "grey_alpha.png", png_file(2, 1, 8, 4, {bytes_of({100, 51, 200, 0})}));
    write(dir / "palette.png", png_file(3, 1, 8, 3, {bytes_of({0, 1, 2})},
                                        {{"PLTE", bytes_of({255, 0, 0, 0, 255, 0, 9, 9, 9})},
                                         {"tRNS", bytes_of({0, 128})}}));
    write(dir / "rgb16.png", png_file(1, 1, 16, 2, {bytes_of({1, 2, 3, 4, 5, 6})}));
    write(dir / "rgba.png", png_file(1, 2, 8, 6, {bytes_of({1, 2, 3, 0}), bytes_of({4, 5, 6, 7})}));
    write(dir / "bits.png", png_file(10, 1, 1, 0, {bytes_of({0xAC, 0x00})}));
    write(dir / "exif.png",
          png_file(2, 1, 8, 0, {bytes_of({5, 6})}, {{"eXIf", exif_tiff(6, false)}}));

    // JPEG: grey with EXIF (both byte orders), YCbCr, Adobe CMYK and YCCK, unmarked CMYK,
    // progressive with restart markers.
    FlatJpeg grey;
    grey.blocks_wide = 2;
    grey.levels = {{10, 200}};
    grey.exif = exif_tiff(6, false);
    write(dir / "grey_exif.jpg", flat_jpeg(grey));
    grey.exif = exif_tiff(3, true);
    write(dir / "grey_exif_mm.jpg", flat_jpeg(grey));
    FlatJpeg colour;
    colour.levels = {{120}, {90}, {160}};
    write(dir / "ycbcr.jpg", flat_jpeg(colour));
    FlatJpeg cmyk;
    cmyk.levels = {{200}, {100}, {50}, {128}};
    cmyk.adobe_transform = 0;
    write(dir / "cmyk.jpg", flat_jpeg(cmyk));
    cmyk.adobe_transform = 2;
    write(dir / "ycck.jpg", flat_jpeg(cmyk));
    cmyk.adobe_transform = -1;
    write(dir / "cmyk_unmarked.jpg", flat_jpeg(cmyk));
    write(dir / "progressive.jpg", progressive_jpeg());

    // BMP: 24-bit both row orders, 32-bit with an alpha mask, 8-bit palette.
    BmpSpec bmp(2, 2, 24, {bytes_of({1, 2, 3, 4, 5, 6}), bytes_of({7, 8, 9, 10, 11, 12})});
    write(dir / "rgb24.bmp", bmp_file(bmp));
    bmp.top_down = true;
    write(dir / "rgb24_top_down.bmp", bmp_file(bmp));
    BmpSpec alpha(1, 1, 32, {bytes_of({50, 100, 200, 128})});
    alpha.v4_alpha = true;
    write(dir / "rgba32.bmp", bmp_file(alpha));
    BmpSpec indexed(2, 1, 8, {bytes_of({0, 1})});
    indexed.palette = {0x000000, 0xFFFFFF};
    write(dir / "indexed.bmp", bmp_file(indexed));

    // Compressed PNG and a 4:2:0 JPEG with real Huffman tables, from stb_image_write.
    std::vector<uint8_t> pixels(16 * 16 * 3);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7 % 251);
    stbi_write_png((dir / "compressed.png").c_str(), 16, 16, 3, pixels.data(), 16 * 3);
    stbi_write_jpg((dir / "subsampled.jpg").c_str(), 16, 16, 3, pixels.data(), 75);
}

void checkpoint_seeds(const fs::path& dir) {
    recolor::detector::Pix2PixConfig config;
    config.image_size = 32;
    config.ngf = 1;
    config.ndf = 1;
    config.n_layers = 1;
    recolor::detector::Pix2Pix<recolor::CPU> model(config);
    recolor::detector::save_checkpoint(dir / "minimal.safetensors", model, {1, 2, 3});
    auto tensor = recolor::Tensor<float>::empty({2, 3});
    for (long i = 0; i < 6; ++i) tensor.data()[i] = static_cast<float>(i);
    recolor::io::save_safetensors(dir / "plain.safetensors", {{"weight", tensor}},
                                  {{"format", "other"}});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_fuzz_seeds <corpus dir>\n";
        return 2;
    }
    const fs::path root = argv[1];
    fs::create_directories(root / "image");
    fs::create_directories(root / "checkpoint");
    image_seeds(root / "image");
    checkpoint_seeds(root / "checkpoint");
    std::cout << "make_fuzz_seeds: wrote the corpus under " << root.string() << "\n";
    return 0;
}
