// The fused CUDA ΔE00 kernel (kernels/delta_e.cuh) against the CPU map (color::delta_e_map), on
// random images and on real PlantVillage leaves, pixel by pixel and in the sums. Pixels whose
// hues are within 1e-3 rad of exactly opposite are left out of the pixel comparison: there
// either branch of the mean hue is right.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <stb/stb_image.h>

#include <recolor/color.hpp>

#include "../color_reference.hpp"
#include "delta_e.cuh"

namespace color = recolor::color;

namespace {

// A device copy of a host vector, freed on scope exit.
template <class T>
class DeviceArray {
  public:
    explicit DeviceArray(const std::vector<T>& host, std::size_t offset = 0) : size_(host.size()) {
        RECOLOR_CUDA_CHECK(cudaMalloc(&base_, sizeof(T) * (size_ + offset + 1)));
        data_ = base_ + offset;
        RECOLOR_CUDA_CHECK(
            cudaMemcpy(data_, host.data(), sizeof(T) * size_, cudaMemcpyHostToDevice));
    }
    explicit DeviceArray(std::size_t size) : DeviceArray(std::vector<T>(size)) {}
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { RECOLOR_CUDA_CHECK_NOEXCEPT(cudaFree(base_)); }

    T* get() const { return data_; }
    std::vector<T> download() const {
        std::vector<T> host(size_);
        RECOLOR_CUDA_CHECK(
            cudaMemcpy(host.data(), data_, sizeof(T) * size_, cudaMemcpyDeviceToHost));
        return host;
    }

  private:
    std::size_t size_;
    T* base_ = nullptr;
    T* data_ = nullptr;
};

struct Batch {
    int n = 0, height = 0, width = 0;
    std::vector<std::uint8_t> original, mask;  // (N, H, W, 3), (N, H, W)
    std::vector<float> reconstruction;         // (N, 3, H, W)

    std::size_t plane() const { return std::size_t(height) * width; }
    void resize(int images, int h, int w) {
        n = images, height = h, width = w;
        original.assign(n * plane() * 3, 0);
        reconstruction.assign(n * plane() * 3, 0);
        mask.assign(n * plane(), 0);
    }
};

struct MapResult {
    std::vector<float> map;
    std::vector<color::DeltaEStats> stats;
};

MapResult run_cpu(const Batch& b) {
    MapResult r{std::vector<float>(b.n * b.plane()), std::vector<color::DeltaEStats>(b.n)};
    color::delta_e_map(
        {b.original.data(), b.reconstruction.data(), b.mask.data(), b.n, b.height, b.width},
        r.map.data(), r.stats.data());
    return r;
}

// offset > 0 misaligns the reconstruction, which sends the kernel down its one-pixel path.
MapResult run_gpu(const Batch& b, std::size_t offset = 0) {
    DeviceArray<std::uint8_t> original(b.original), mask(b.mask);
    DeviceArray<float> reconstruction(b.reconstruction, offset), map(b.n * b.plane());
    DeviceArray<color::DeltaEStats> stats(std::size_t(b.n));
    recolor::cuda::delta_e_map(
        {original.get(), reconstruction.get(), mask.get(), b.n, b.height, b.width}, map.get(),
        stats.get());
    RECOLOR_CUDA_CHECK(cudaDeviceSynchronize());
    return {map.download(), stats.download()};
}

// Compares the GPU result with the CPU one: pixels away from opposite hues within 1e-3, each
// image's sum equal to the sum of its map, the foreground count exact, the means within 1e-3.
void check_parity(const Batch& b, const MapResult& gpu, const MapResult& cpu) {
    const std::size_t plane = b.plane();
    float worst = 0;
    std::size_t skipped = 0;
    for (int i = 0; i < b.n; ++i) {
        double map_sum = 0;
        for (std::size_t p = 0; p < plane; ++p) {
            const std::size_t k = i * plane + p;
            map_sum += gpu.map[k];
            float rec[3];
            for (int c = 0; c < 3; ++c) rec[c] = b.reconstruction[(i * 3 + c) * plane + p];
            if (color_reference::delta_e(&b.original[k * 3], rec).hue_gap < 1e-3) {
                ++skipped;
                continue;
            }
            worst = std::max(worst, std::abs(gpu.map[k] - cpu.map[k]));
        }
        CAPTURE(i);
        CHECK(gpu.stats[i].sum == doctest::Approx(map_sum).epsilon(1e-9));
        CHECK(gpu.stats[i].mask_count == cpu.stats[i].mask_count);
        CHECK(std::abs(gpu.stats[i].masked_mean() - cpu.stats[i].masked_mean()) < 1e-3);
    }
    MESSAGE("largest |GPU - CPU| " << worst << " over " << b.n * plane - skipped << " pixels ("
                                   << skipped << " near opposite hues left out)");
    CHECK(worst < 1e-3f);
}

Batch random_batch(int n, int height, int width, unsigned seed) {
    Batch b;
    b.resize(n, height, width);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255), coin(0, 3);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    std::uniform_real_distribution<float> any(-1.05f, 1.05f);
    const std::size_t plane = b.plane();
    for (int i = 0; i < n; ++i) {
        for (std::size_t p = 0; p < plane; ++p) {
            const bool related = coin(rng) != 0;
            for (int c = 0; c < 3; ++c) {
                const std::uint8_t v = std::uint8_t(byte(rng));
                b.original[(i * plane + p) * 3 + c] = v;
                b.reconstruction[(i * 3 + c) * plane + p] =
                    related ? v / 127.5f - 1.0f + noise(rng) : any(rng);
            }
            b.mask[i * plane + p] = std::uint8_t(coin(rng) ? 255 : 0);
        }
    }
    return b;
}

// The first `count` images of a PlantVillage folder, by name; the mask is luma > 16 (the
// segmented background is near-black, not zero); the "reconstruction" is the leaf with a smooth
// colour drift everywhere and its channels rotated in one square, as a lesion would read.
Batch leaf_batch(const std::string& folder, int count) {
    Batch b;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    files.resize(std::min<std::size_t>(files.size(), count));
    for (std::size_t f = 0; f < files.size(); ++f) {
        int w, h, channels;
        unsigned char* pixels = stbi_load(files[f].c_str(), &w, &h, &channels, 3);
        REQUIRE_MESSAGE(pixels, "cannot decode " << files[f] << ": " << stbi_failure_reason());
        if (f == 0) b.resize(int(files.size()), h, w);
        REQUIRE((w == b.width && h == b.height));
        const std::size_t plane = b.plane();
        for (std::size_t p = 0; p < plane; ++p) {
            const int x = int(p % w), y = int(p / w);
            const bool lesion = x > w / 3 && x < w / 2 && y > h / 3 && y < h / 2;
            const std::uint8_t* rgb = pixels + 3 * p;
            const float luma = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
            b.mask[f * plane + p] = luma > 16 ? 1 : 0;
            for (int c = 0; c < 3; ++c) {
                b.original[(f * plane + p) * 3 + c] = rgb[c];
                const int source = lesion ? (c + 1) % 3 : c;
                const float drift = 0.04f * std::sin(0.05f * x + 2.1f * c) * std::cos(0.03f * y);
                b.reconstruction[(f * 3 + c) * plane + p] = rgb[source] / 127.5f - 1.0f + drift;
            }
        }
        stbi_image_free(pixels);
    }
    return b;
}

}  // namespace

TEST_SUITE("gpu") {
    TEST_CASE("delta_e kernel matches the CPU map on random images") {
        // 64 x 80: four-pixel path; 37 x 53: one-pixel path (H W not a multiple of 4).
        for (const auto& shape : {std::vector<int>{3, 64, 80}, std::vector<int>{2, 37, 53}}) {
            const Batch b = random_batch(shape[0], shape[1], shape[2], 23);
            CAPTURE(b.height);
            check_parity(b, run_gpu(b), run_cpu(b));
        }
    }

    TEST_CASE("delta_e kernel matches the CPU map on PlantVillage leaves") {
        const std::string root = std::string(RECOLOR_DATA_DIR) + "/plantvillage";
        for (const char* folder :
             {"segmented/Strawberry___Leaf_scorch", "color/Potato___Early_blight"}) {
            const std::string path = root + "/" + folder;
            if (!std::filesystem::is_directory(path)) {
                MESSAGE("skipped: no " << path);
                continue;
            }
            const Batch b = leaf_batch(path, 6);
            CAPTURE(folder);
            check_parity(b, run_gpu(b), run_cpu(b));
        }
    }

    TEST_CASE("delta_e kernel: one-pixel and four-pixel paths agree") {
        const Batch b = random_batch(2, 32, 48, 29);
        const MapResult wide = run_gpu(b), narrow = run_gpu(b, 1);
        float worst = 0;
        for (std::size_t k = 0; k < wide.map.size(); ++k)
            worst = std::max(worst, std::abs(wide.map[k] - narrow.map[k]));
        CHECK(worst < 1e-5f);
        for (int i = 0; i < b.n; ++i) {
            CHECK(wide.stats[i].mask_count == narrow.stats[i].mask_count);
            CHECK(wide.stats[i].sum == doctest::Approx(narrow.stats[i].sum).epsilon(1e-6));
        }
    }

    TEST_CASE("delta_e kernel: no mask counts every pixel and a null map still gives the sums") {
        const Batch b = random_batch(2, 16, 20, 31);
        DeviceArray<std::uint8_t> original(b.original);
        DeviceArray<float> reconstruction(b.reconstruction);
        DeviceArray<color::DeltaEStats> stats(std::size_t(b.n));
        recolor::cuda::delta_e_map(
            {original.get(), reconstruction.get(), nullptr, b.n, b.height, b.width}, nullptr,
            stats.get());
        const auto gpu = stats.download();
        std::vector<color::DeltaEStats> cpu(b.n);
        color::delta_e_map(
            {b.original.data(), b.reconstruction.data(), nullptr, b.n, b.height, b.width}, nullptr,
            cpu.data());
        for (int i = 0; i < b.n; ++i) {
            CHECK(gpu[i].mask_count == std::int64_t(b.plane()));
            CHECK(gpu[i].sum == doctest::Approx(cpu[i].sum).epsilon(1e-4));
            CHECK(gpu[i].masked_sum == doctest::Approx(gpu[i].sum).epsilon(1e-12));
        }
    }
}
