// Which images the detector trains and tests on, and those images held in memory.
//
// Splits and samples are a pure function of (set of paths, fraction or count, seed) on every
// platform: the paths are sorted first, then shuffled by our own Fisher-Yates on std::mt19937_64
// (whose output the standard fixes), drawing indices by rejection. std::shuffle and
// std::uniform_int_distribution are not used: their algorithms differ between libraries.
//
// Dataset decodes and resizes every image once. A file that fails is recorded with its reason
// and skipped; the others still load.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "recolor/core/log.hpp"
#include "recolor/io/image.hpp"

namespace recolor::io {

namespace detail {

inline bool has_image_extension(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// A uniform integer in [0, n), n >= 1: raw 64-bit draws at or above the largest multiple of n
// are rejected, so every value is equally likely.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
    const uint64_t remainder = (std::numeric_limits<uint64_t>::max() % n + 1) % n;  // 2^64 mod n
    const uint64_t limit = uint64_t{0} - remainder;                                 // 2^64 - r
    for (;;) {
        const uint64_t x = rng();
        if (remainder == 0 || x < limit) return x % n;
    }
}

// Sorted by byte order of the whole path; a path listed twice is an error.
inline std::vector<std::filesystem::path> sorted_unique(std::vector<std::filesystem::path> paths,
                                                        const char* caller) {
    std::sort(paths.begin(), paths.end(),
              [](const auto& a, const auto& b) { return a.string() < b.string(); });
    for (size_t i = 1; i < paths.size(); ++i) {
        RECOLOR_CHECK(paths[i] != paths[i - 1],
                      caller << ": '" << paths[i].string() << "' is listed twice");
    }
    return paths;
}

// The first `count` positions of a Fisher-Yates shuffle (all of them when count == size).
inline void partial_shuffle(std::vector<std::filesystem::path>& paths, size_t count,
                            uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < count && i + 1 < paths.size(); ++i) {
        const size_t j = i + static_cast<size_t>(uniform_below(rng, paths.size() - i));
        std::swap(paths[i], paths[j]);
    }
}

inline void sort_by_name(std::vector<std::filesystem::path>& paths) {
    std::sort(paths.begin(), paths.end(),
              [](const auto& a, const auto& b) { return a.string() < b.string(); });
}

}  // namespace detail

// Image files (jpg, jpeg, png, bmp, any letter case) directly in `dir`, sorted by name.
// A file that could not be used, and why.
struct LoadFailure {
    std::filesystem::path path;
    std::string reason;
};

// The image files of a folder (by extension), sorted by name. An entry with an image's name that
// is not a readable regular file (a dangling link, a loop of links, a FIFO, a folder) is left
// out and, when `unreadable` is given, recorded there with its reason; without it, such entries
// are left out silently.
inline std::vector<std::filesystem::path> list_images(
    const std::filesystem::path& dir, std::vector<LoadFailure>* unreadable = nullptr) {
    std::error_code ec;
    RECOLOR_CHECK(std::filesystem::is_directory(dir, ec),
                  "list_images: '" << dir.string() << "' is not a directory"
                                   << (ec ? " (" + ec.message() + ")" : std::string()));
    std::vector<std::filesystem::path> out;
    std::filesystem::directory_iterator it(dir, ec), end;
    RECOLOR_CHECK(!ec, "list_images: cannot read '" << dir.string() << "': " << ec.message());
    for (; it != end; it.increment(ec)) {
        RECOLOR_CHECK(!ec, "list_images: cannot read '" << dir.string() << "': " << ec.message());
        const std::filesystem::path& path = it->path();
        if (!detail::has_image_extension(path)) continue;
        std::error_code status_error;
        const bool regular = it->is_regular_file(status_error);
        if (regular) {
            out.push_back(path);
        } else if (unreadable) {
            unreadable->push_back(
                {path, status_error ? status_error.message() : std::string("not a regular file")});
        }
    }
    RECOLOR_CHECK(!out.empty(),
                  "list_images: no images (jpg, jpeg, png, bmp) in '" << dir.string() << "'");
    detail::sort_by_name(out);
    return out;
}

struct Split {
    std::vector<std::filesystem::path> train;
    std::vector<std::filesystem::path> test;
};

// round(train_fraction * n) paths for training, the rest for testing; each part sorted by name.
// Limitation: images of one physical leaf are not grouped, so they can land on both sides.
inline Split split_paths(const std::vector<std::filesystem::path>& paths, double train_fraction,
                         uint64_t seed) {
    RECOLOR_CHECK(train_fraction >= 0.0 && train_fraction <= 1.0,
                  "split_paths: train_fraction must be in [0, 1], found " << train_fraction);
    auto shuffled = detail::sorted_unique(paths, "split_paths");
    detail::partial_shuffle(shuffled, shuffled.size(), seed);
    const auto train_count = static_cast<size_t>(std::llround(train_fraction * shuffled.size()));

    Split split;
    split.train.assign(shuffled.begin(), shuffled.begin() + train_count);
    split.test.assign(shuffled.begin() + train_count, shuffled.end());
    detail::sort_by_name(split.train);
    detail::sort_by_name(split.test);
    return split;
}

// n paths drawn without replacement, sorted by name.
inline std::vector<std::filesystem::path> sample_paths(
    const std::vector<std::filesystem::path>& paths, size_t n, uint64_t seed) {
    RECOLOR_CHECK(n <= paths.size(),
                  "sample_paths: cannot draw " << n << " of " << paths.size() << " paths");
    auto shuffled = detail::sorted_unique(paths, "sample_paths");
    detail::partial_shuffle(shuffled, n, seed);
    shuffled.resize(n);
    detail::sort_by_name(shuffled);
    return shuffled;
}

struct DatasetOptions {
    int width = 256;  // every image is resized to width x height
    int height = 256;
    bool keep_originals = false;  // also keep each decoded image as it was before resizing
    long long max_pixels = default_max_pixels;
};

// One image: generator input (1, 1, H, W) and target (1, 3, H, W), both in [-1, 1].
struct Sample {
    std::filesystem::path path;
    Tensor<float> gray;
    Tensor<float> rgb;
    std::optional<ImageRgb8> original;
};

class Dataset {
  public:
    explicit Dataset(const std::vector<std::filesystem::path>& paths, DatasetOptions options = {})
        : options_(options) {
        RECOLOR_CHECK(options.width > 0 && options.height > 0,
                      "Dataset: image size must be positive, found " << options.width << "x"
                                                                     << options.height);
        const long count = static_cast<long>(paths.size());
        std::vector<std::optional<Sample>> loaded(paths.size());
        std::vector<std::string> reasons(paths.size());

        // Load: in parallel, each file on its own; an exception stays with its file.
#pragma omp parallel for schedule(dynamic)
        for (long i = 0; i < count; ++i) {
            try {
                loaded[i] = load_sample(paths[i]);
            } catch (const std::exception& e) {
                reasons[i] = e.what();
            }
        }

        // Collect: samples in the order given, failures with their reasons.
        for (size_t i = 0; i < paths.size(); ++i) {
            if (loaded[i]) {
                samples_.push_back(std::move(*loaded[i]));
            } else {
                failures_.push_back({paths[i], reasons[i]});
                RECOLOR_LOG_INFO("dataset: skipped '" << paths[i].string() << "': " << reasons[i]);
            }
        }
        const double mib = static_cast<double>(samples_.size()) * options.width * options.height *
                           4 * sizeof(float) / (1 << 20);
        RECOLOR_LOG_INFO("dataset: " << samples_.size() << " images at " << options.width << "x"
                                     << options.height << " (" << mib << " MiB of tensors), "
                                     << failures_.size() << " failed");
    }

    size_t size() const {
        return samples_.size();
    }
    bool empty() const {
        return samples_.empty();
    }
    int width() const {
        return options_.width;
    }
    int height() const {
        return options_.height;
    }
    const Sample& operator[](size_t i) const {
        RECOLOR_CHECK(i < samples_.size(), "Dataset: no sample " << i << " in " << samples_.size());
        return samples_[i];
    }
    const std::vector<Sample>& samples() const {
        return samples_;
    }
    const std::vector<LoadFailure>& failures() const {
        return failures_;
    }

    // A batch of the given samples: (N, 1, H, W) grey inputs or (N, 3, H, W) colour targets.
    Tensor<float> gray_batch(const std::vector<size_t>& indices) const {
        return stack(indices, 1, &Sample::gray);
    }
    Tensor<float> rgb_batch(const std::vector<size_t>& indices) const {
        return stack(indices, 3, &Sample::rgb);
    }

  private:
    Sample load_sample(const std::filesystem::path& path) const {
        ImageRgb8 image = load_image(path, options_.max_pixels);
        ImageRgb8 sized = resize(image, options_.width, options_.height);
        Sample sample{path, to_gray_tensor(sized), to_rgb_tensor(sized), std::nullopt};
        if (options_.keep_originals) sample.original = std::move(image);
        return sample;
    }

    Tensor<float> stack(const std::vector<size_t>& indices, long channels,
                        Tensor<float> Sample::*member) const {
        RECOLOR_CHECK(!indices.empty(), "Dataset: a batch needs at least one index");
        const long plane = channels * options_.height * options_.width;
        auto out = Tensor<float>::empty(
            {static_cast<long>(indices.size()), channels, options_.height, options_.width});
        for (size_t n = 0; n < indices.size(); ++n) {
            const Tensor<float>& t = (*this)[indices[n]].*member;
            std::copy(t.data(), t.data() + plane, out.data() + n * plane);
        }
        return out;
    }

    DatasetOptions options_;
    std::vector<Sample> samples_;
    std::vector<LoadFailure> failures_;
};

}  // namespace recolor::io
