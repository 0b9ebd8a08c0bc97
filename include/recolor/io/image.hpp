// Images as the detector reads and writes them: 8-bit RGB, interleaved, in memory. stb_image
// decodes JPEG, PNG and BMP; the compiled stb lives in libstb, so no header here defines an
// STB_*_IMPLEMENTATION. Every failure is a recolor::Error naming the file and the reason.
//
// One policy for every file, in training and in scoring alike (docs/robustness.md):
// - the content decides the format, not the extension; image_format.hpp refuses, before stb
//   reads a byte, what stb would decode into wrong pixels (cut files, CMYK of unknown
//   convention) or could not parse safely;
// - the size is checked from the header against a pixel limit before any pixel is decoded;
// - grey is replicated to R = G = B; 16-bit samples become the nearest 8-bit level (v / 257,
//   rounded, so v * 257 loads as v);
// - alpha (an alpha channel, or a PNG tRNS colour) is composited on black (c * a / 255,
//   rounded): segmented PlantVillage leaves sit on black, so a transparent pixel becomes that
//   background;
// - CMYK JPEGs with Adobe's marker follow Adobe's inverted-ink convention and the naive
//   conversion Pillow uses (R = C * K / 255 on the stored values); no ICC profile is applied;
// - the EXIF orientation of a JPEG or PNG is applied, so pixels come out upright, as a viewer
//   shows them, and every heatmap has the size and orientation of the pixels scored.
// Tensors follow pix2pix: values in [-1, 1], grey from Pillow's luma.
#pragma once

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include "recolor/backend/cpu.hpp"
#include "recolor/core/error.hpp"
#include "recolor/core/tensor.hpp"
#include "recolor/io/image_format.hpp"

namespace recolor::io {

struct ImageRgb8 {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // RGB interleaved, row after row: width * height * 3 bytes
};

// 50 Mpixel: about 150 MB decoded; far above PlantVillage's 256x256, far below stb's own limit.
inline constexpr long long default_max_pixels = 50'000'000;

namespace detail {

inline std::string stb_reason() {
    const char* reason = stbi_failure_reason();
    return reason ? reason : "no reason given";
}

// The whole file, or an Error naming it. The size is checked before anything is allocated.
inline std::vector<unsigned char> read_file_bytes(const std::filesystem::path& path,
                                                  const char* caller,
                                                  uint64_t max_bytes = INT_MAX) {
    std::error_code ec;
    RECOLOR_CHECK(std::filesystem::is_regular_file(path, ec),
                  caller << ": '" << path.string() << "' is not a file"
                         << (ec ? " (" + ec.message() + ")" : std::string()));
    std::ifstream in(path, std::ios::binary);
    RECOLOR_CHECK(in.is_open(),
                  caller << ": cannot open '" << path.string() << "': " << std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(0, std::ios::beg);
    RECOLOR_CHECK(size >= 0, caller << ": cannot read the size of '" << path.string() << "'");
    RECOLOR_CHECK(static_cast<uint64_t>(size) <= max_bytes,
                  caller << ": '" << path.string() << "' is " << size
                         << " bytes, over the limit of " << max_bytes);
    std::vector<unsigned char> bytes(static_cast<size_t>(size));
    in.read(reinterpret_cast<char*>(bytes.data()), size);
    RECOLOR_CHECK(in.gcount() == size, caller << ": read " << in.gcount() << " of " << size
                                              << " bytes of '" << path.string() << "'");
    return bytes;
}

inline void check_image(const ImageRgb8& image, const char* caller) {
    RECOLOR_CHECK(image.width > 0 && image.height > 0,
                  caller << ": empty image " << image.width << "x" << image.height);
    const size_t expected = static_cast<size_t>(image.width) * image.height * 3;
    RECOLOR_CHECK(image.pixels.size() == expected,
                  caller << ": a " << image.width << "x" << image.height << " RGB image needs "
                         << expected << " bytes, found " << image.pixels.size());
}

}  // namespace detail

namespace detail {

// 16-bit samples to the nearest 8-bit level: round(v * 255 / 65535) = round(v / 257).
inline uint8_t to_8_bit(uint16_t v) {
    return static_cast<uint8_t>((uint32_t{v} * 255 + 32767) / 65535);
}

// The pixel of an upright image at (x, y), for an EXIF orientation, as an index into the stored
// width x height image. EXIF 2.32, tag 0x0112, names where the stored row 0 and column 0 go:
// 1 top/left, 2 top/right, 3 bottom/right, 4 bottom/left, 5 left/top, 6 right/top,
// 7 right/bottom, 8 left/bottom (orientations 5 to 8 swap width and height).
inline size_t stored_index(int orientation, long x, long y, long width, long height) {
    const bool transpose = orientation >= 5 && orientation <= 8;
    long sx = transpose ? y : x, sy = transpose ? x : y;
    if (orientation == 2 || orientation == 3 || orientation == 7 || orientation == 8) {
        sx = width - 1 - sx;
    }
    if (orientation == 3 || orientation == 4 || orientation == 6 || orientation == 7) {
        sy = height - 1 - sy;
    }
    return static_cast<size_t>(sy * width + sx);
}

// Composites RGBA on black, then turns the stored pixels upright.
inline ImageRgb8 upright_rgb(const uint8_t* rgba, int width, int height, int orientation,
                             bool ignore_alpha) {
    const bool swap = orientation >= 5 && orientation <= 8;
    ImageRgb8 image;
    image.width = swap ? height : width;
    image.height = swap ? width : height;
    image.pixels.resize(static_cast<size_t>(width) * height * 3);
    size_t out = 0;
    for (long y = 0; y < image.height; ++y) {
        for (long x = 0; x < image.width; ++x) {
            const uint8_t* p = rgba + 4 * stored_index(orientation, x, y, width, height);
            const unsigned alpha = ignore_alpha ? 255 : p[3];
            // Alpha: c * a / 255 rounded to the nearest integer (exact for a = 255).
            for (int c = 0; c < 3; ++c) {
                image.pixels[out++] = static_cast<uint8_t>((p[c] * alpha + 127) / 255);
            }
        }
    }
    return image;
}

}  // namespace detail

// Decodes a JPEG, PNG or BMP file held in memory to upright RGB (see the policy above); `name`
// names it in messages. This is where untrusted bytes meet the decoder (fuzz/image_fuzzer.cpp).
inline ImageRgb8 decode_image(const unsigned char* data, size_t size, const std::string& name,
                              long long max_pixels = default_max_pixels) {
    RECOLOR_CHECK(size > 0, "load_image: '" << name << "' is empty (0 bytes)");
    RECOLOR_CHECK(size <= static_cast<size_t>(INT_MAX),
                  "load_image: '" << name << "' is over 2 GiB (" << size << " bytes)");
    const int length = static_cast<int>(size);

    // Format, size and structure, from the bytes, before stb sees any of them: the size in the
    // header is checked against the limit as soon as it is read.
    const ImageLayout layout = inspect_image(data, size, name, max_pixels);

    // Size again, as stb reads it (the decoder checks the decoded size against it below).
    int info_width = 0, info_height = 0, channels = 0;
    if (!stbi_info_from_memory(data, length, &info_width, &info_height, &channels)) {
        throw Error("load_image: cannot decode '" + name + "' (stb: " + detail::stb_reason() + ")");
    }
    // stb reports a top-down BMP's height as negative; the decoder uses its magnitude.
    const long long width = std::llabs(info_width), height = std::llabs(info_height);
    detail::check_pixels(width, height, max_pixels, name);

    // Decode: always to RGBA, so that every kind of transparency (alpha channel, palette or
    // colour key) reaches the one compositing step.
    int decoded_width = 0, decoded_height = 0, file_channels = 0;
    const bool sixteen_bit =
        layout.format == ImageFormat::png && stbi_is_16_bit_from_memory(data, length);
    void* raw = sixteen_bit
                    ? static_cast<void*>(stbi_load_16_from_memory(
                          data, length, &decoded_width, &decoded_height, &file_channels, 4))
                    : static_cast<void*>(stbi_load_from_memory(data, length, &decoded_width,
                                                               &decoded_height, &file_channels, 4));
    if (!raw) {
        throw Error("load_image: cannot decode '" + name + "' (stb: " + detail::stb_reason() + ")");
    }
    std::unique_ptr<void, void (*)(void*)> owner(raw, stbi_image_free);
    const size_t samples = static_cast<size_t>(decoded_width) * decoded_height * 4;
    std::vector<uint8_t> converted;
    if (sixteen_bit) {
        converted.resize(samples);
        const auto* wide = static_cast<const stbi_us*>(raw);
        for (size_t i = 0; i < samples; ++i) converted[i] = detail::to_8_bit(wide[i]);
        owner.reset();
    }
    const uint8_t* rgba = sixteen_bit ? converted.data() : static_cast<const uint8_t*>(raw);
    RECOLOR_CHECK(decoded_width == width && decoded_height == height,
                  "load_image: '" << name << "': the header says " << width << "x" << height
                                  << ", the decoder found " << decoded_width << "x"
                                  << decoded_height);

    // Alpha and orientation.
    return detail::upright_rgb(rgba, decoded_width, decoded_height, layout.orientation,
                               layout.bmp_ignore_alpha);
}

// Decodes a JPEG, PNG or BMP file to upright RGB (see the policy above).
inline ImageRgb8 load_image(const std::filesystem::path& path,
                            long long max_pixels = default_max_pixels) {
    const auto bytes = detail::read_file_bytes(path, "load_image");
    return decode_image(bytes.data(), bytes.size(), path.string(), max_pixels);
}

// Resamples to width x height with stb_image_resize's defaults (Mitchell filter when shrinking,
// Catmull-Rom when enlarging, clamped edges). It filters the stored 8-bit values, not linear
// light: the same space PIL and torchvision resize in, which pix2pix's data loader used. The
// same size returns a copy untouched.
inline ImageRgb8 resize(const ImageRgb8& image, int width, int height) {
    detail::check_image(image, "resize");
    RECOLOR_CHECK(width > 0 && height > 0,
                  "resize: target size must be positive, found " << width << "x" << height);
    if (width == image.width && height == image.height) return image;
    ImageRgb8 out;
    out.width = width;
    out.height = height;
    out.pixels.resize(static_cast<size_t>(width) * height * 3);
    const int ok = stbir_resize_uint8(image.pixels.data(), image.width, image.height, 0,
                                      out.pixels.data(), width, height, 0, 3);
    RECOLOR_CHECK(ok, "resize: stb_image_resize failed for " << image.width << "x" << image.height
                                                             << " -> " << width << "x" << height);
    return out;
}

// Writes 8-bit pixels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA channels, interleaved) as PNG.
inline void write_png(const std::filesystem::path& path, int width, int height, int channels,
                      const uint8_t* pixels) {
    const std::string name = path.string();
    RECOLOR_CHECK(width > 0 && height > 0, "write_png: '" << name
                                                          << "': size must be positive, found "
                                                          << width << "x" << height);
    RECOLOR_CHECK(channels >= 1 && channels <= 4,
                  "write_png: '" << name << "': channels must be 1 to 4, found " << channels);
    RECOLOR_CHECK(pixels != nullptr, "write_png: '" << name << "': no pixel data");
    // Encoded in memory, then written with every write and the close checked: stb's own file
    // writer does not check them, and a full disk would leave a cut file behind unreported.
    std::vector<unsigned char> png;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<unsigned char>*>(context);
        out->insert(out->end(), static_cast<unsigned char*>(data),
                    static_cast<unsigned char*>(data) + size);
    };
    RECOLOR_CHECK(
        stbi_write_png_to_func(append, &png, width, height, channels, pixels, width * channels),
        "write_png: '" << name << "': PNG encoding failed");
    errno = 0;
    std::FILE* file = std::fopen(name.c_str(), "wb");
    bool ok = file != nullptr && std::fwrite(png.data(), 1, png.size(), file) == png.size();
    int error = errno;
    if (file != nullptr && std::fclose(file) != 0 && ok) ok = false, error = errno;
    if (!ok) {
        throw Error("write_png: cannot write '" + name +
                    "': " + (error ? std::strerror(error) : "write failed"));
    }
}

inline void write_png(const std::filesystem::path& path, const ImageRgb8& image) {
    detail::check_image(image, "write_png");
    write_png(path, image.width, image.height, 3, image.pixels.data());
}

// Luma as Pillow's Image.convert("L") computes it (ITU-R BT.601 weights 0.299, 0.587, 0.114 in
// 16-bit fixed point, rounded). Pillow 9.4 gives the same value for all 2^24 colours; the float
// form R*299/1000 + G*587/1000 + B*114/1000, rounded, differs on 9716 of them.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
    const uint32_t sum = r * 19595u + g * 38470u + b * 7471u + 0x8000u;
    return static_cast<uint8_t>(sum >> 16);
}

// Grey input of the generator: (1, 1, H, W), L / 127.5 - 1 in [-1, 1].
inline Tensor<float> to_gray_tensor(const ImageRgb8& image) {
    detail::check_image(image, "to_gray_tensor");
    auto out = Tensor<float>::empty({1, 1, image.height, image.width});
    float* dst = out.data();
    const uint8_t* src = image.pixels.data();
    const long count = static_cast<long>(image.width) * image.height;
    for (long i = 0; i < count; ++i) {
        dst[i] = luma(src[i * 3], src[i * 3 + 1], src[i * 3 + 2]) / 127.5f - 1.0f;
    }
    return out;
}

// Colour target of the generator: (1, 3, H, W) planes R, G, B, each c / 127.5 - 1 in [-1, 1].
inline Tensor<float> to_rgb_tensor(const ImageRgb8& image) {
    detail::check_image(image, "to_rgb_tensor");
    auto out = Tensor<float>::empty({1, 3, image.height, image.width});
    float* dst = out.data();
    const uint8_t* src = image.pixels.data();
    const long count = static_cast<long>(image.width) * image.height;
    for (int c = 0; c < 3; ++c) {
        for (long i = 0; i < count; ++i) dst[c * count + i] = src[i * 3 + c] / 127.5f - 1.0f;
    }
    return out;
}

// Back from 3 planes of width * height floats (a generator's tanh output): (v + 1) * 127.5,
// clamped to [0, 255] and rounded half up. NaN becomes 0.
inline ImageRgb8 from_rgb_tensor(const float* chw, int width, int height) {
    RECOLOR_CHECK(chw != nullptr, "from_rgb_tensor: no data");
    RECOLOR_CHECK(width > 0 && height > 0,
                  "from_rgb_tensor: size must be positive, found " << width << "x" << height);
    ImageRgb8 image;
    image.width = width;
    image.height = height;
    const long count = static_cast<long>(width) * height;
    image.pixels.resize(static_cast<size_t>(count) * 3);
    for (int c = 0; c < 3; ++c) {
        for (long i = 0; i < count; ++i) {
            const float scaled = (chw[c * count + i] + 1.0f) * 127.5f;
            const float clamped = scaled > 0.0f ? std::min(scaled, 255.0f) : 0.0f;  // NaN -> 0
            image.pixels[i * 3 + c] = static_cast<uint8_t>(std::floor(clamped + 0.5f));
        }
    }
    return image;
}

}  // namespace recolor::io
