// What the structure check in io/image_format.hpp costs next to decoding: a 12-Mpixel JPEG of
// noise (the most entropy-coded data per pixel, so the worst case for the scan check, which
// decodes every block's Huffman codes), written in memory by stb_image_write at quality 92.
// Cases: the checks alone (io::inspect_image), stb's decode alone (stbi_load_from_memory), and
// both as recolor loads a file (io::decode_image).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <recolor/io/io.hpp>

namespace {

const std::string& noise_jpeg() {
    static const std::string bytes = [] {
        const int width = 4000, height = 3000;
        std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * 3);
        std::mt19937 random(7);
        for (uint8_t& p : pixels) p = static_cast<uint8_t>(random() >> 24);
        std::string out;
        stbi_write_jpg_to_func(
            [](void* context, void* data, int size) {
                static_cast<std::string*>(context)->append(static_cast<char*>(data),
                                                           static_cast<size_t>(size));
            },
            &out, width, height, 3, pixels.data(), 92);
        return out;
    }();
    return bytes;
}

const unsigned char* data_of(const std::string& bytes) {
    return reinterpret_cast<const unsigned char*>(bytes.data());
}

void set_counters(benchmark::State& state, const std::string& bytes) {
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
    state.counters["Mpixel/s"] = benchmark::Counter(12.0 * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
    state.counters["MB"] = static_cast<double>(bytes.size()) / 1e6;
}

void jpeg_structure_check(benchmark::State& state) {
    const std::string& bytes = noise_jpeg();
    for (auto _ : state) {
        benchmark::DoNotOptimize(recolor::io::inspect_image(data_of(bytes), bytes.size(), "noise",
                                                            recolor::io::default_max_pixels));
    }
    set_counters(state, bytes);
}

void jpeg_stb_decode(benchmark::State& state) {
    const std::string& bytes = noise_jpeg();
    for (auto _ : state) {
        int width = 0, height = 0, channels = 0;
        unsigned char* pixels = stbi_load_from_memory(
            data_of(bytes), static_cast<int>(bytes.size()), &width, &height, &channels, 3);
        benchmark::DoNotOptimize(pixels);
        stbi_image_free(pixels);
    }
    set_counters(state, bytes);
}

void jpeg_load(benchmark::State& state) {
    const std::string& bytes = noise_jpeg();
    for (auto _ : state) {
        benchmark::DoNotOptimize(recolor::io::decode_image(data_of(bytes), bytes.size(), "noise"));
    }
    set_counters(state, bytes);
}

}  // namespace

BENCHMARK(jpeg_structure_check)->Unit(benchmark::kMillisecond);
BENCHMARK(jpeg_stb_decode)->Unit(benchmark::kMillisecond);
BENCHMARK(jpeg_load)->Unit(benchmark::kMillisecond);
