// The fused ΔE00 kernel's throughput, as Mpixel/s and as a share of the memory bandwidth. The
// bytes counted are those the kernel must move: per pixel 3 (original) + 12 (reconstruction)
// + 1 (mask) read and 4 (map) written. Beside it, in the same binary, a device-to-device copy
// gives the bandwidth this device reaches in practice (bytes read + written; "of_copy" is the
// kernel's share of it), and "of_peak" is the share of the peak from the memory clock and bus
// width, where the runtime reports them. Timing is by
// CUDA events; 256 images of 256 x 256 (336 MB moved per pass) keep the L2 cache out of it.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include <recolor/color.hpp>

#include "delta_e.cuh"

namespace color = recolor::color;

namespace {

constexpr int images = 256, height = 256, width = 256;
constexpr std::int64_t pixels = std::int64_t(images) * height * width;
constexpr std::int64_t bytes_per_pixel = 3 + 12 + 1 + 4;

template <class T>
T* device_copy(const std::vector<T>& host) {
    T* p = nullptr;
    RECOLOR_CUDA_CHECK(cudaMalloc(&p, sizeof(T) * host.size()));
    RECOLOR_CUDA_CHECK(cudaMemcpy(p, host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice));
    return p;
}

// Bytes per second from the memory clock and bus width; 0 where the runtime does not say.
double peak_bandwidth() {
    int device = 0, clock_khz = 0, bus_bits = 0;
    RECOLOR_CUDA_CHECK(cudaGetDevice(&device));
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return 2.0 * clock_khz * 1e3 * bus_bits / 8;  // double data rate
}

// Times `repeats` device-to-device copies of `bytes`; returns bytes read + written per second.
double time_copies(std::size_t bytes, int repeats, benchmark::State* state) {
    void *src = nullptr, *dst = nullptr;
    RECOLOR_CUDA_CHECK(cudaMalloc(&src, bytes));
    RECOLOR_CUDA_CHECK(cudaMalloc(&dst, bytes));
    RECOLOR_CUDA_CHECK(cudaMemset(src, 1, bytes));
    cudaEvent_t start, stop;
    RECOLOR_CUDA_CHECK(cudaEventCreate(&start));
    RECOLOR_CUDA_CHECK(cudaEventCreate(&stop));
    double seconds = 0;
    int done = 0;
    auto once = [&] {
        RECOLOR_CUDA_CHECK(cudaEventRecord(start));
        RECOLOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
        RECOLOR_CUDA_CHECK(cudaEventRecord(stop));
        RECOLOR_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        RECOLOR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        seconds += ms * 1e-3;
        ++done;
        return ms * 1e-3;
    };
    once();  // warm-up
    seconds = 0, done = 0;
    if (state)
        for (auto _ : *state) state->SetIterationTime(once());
    else
        for (int i = 0; i < repeats; ++i) once();
    RECOLOR_CUDA_CHECK(cudaEventDestroy(start));
    RECOLOR_CUDA_CHECK(cudaEventDestroy(stop));
    RECOLOR_CUDA_CHECK(cudaFree(src));
    RECOLOR_CUDA_CHECK(cudaFree(dst));
    return 2.0 * double(bytes) * done / seconds;
}

// The bandwidth a plain copy reaches on this device, measured once.
double copy_bandwidth() {
    static const double rate = time_copies(std::size_t(1) << 30, 20, nullptr);
    return rate;
}

void BM_device_copy(benchmark::State& state) {
    const double rate = time_copies(std::size_t(1) << 30, 0, &state);
    state.counters["GB/s"] = rate * 1e-9;
}
BENCHMARK(BM_device_copy)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_delta_e_map_cuda(benchmark::State& state) {
    std::vector<std::uint8_t> original(pixels * 3), mask(pixels);
    std::vector<float> reconstruction(pixels * 3);
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& v : original) v = std::uint8_t(byte(rng));
    for (auto& v : mask) v = std::uint8_t(byte(rng) > 100);
    const std::int64_t plane = std::int64_t(height) * width;
    for (int i = 0; i < images; ++i)
        for (int c = 0; c < 3; ++c)
            for (std::int64_t p = 0; p < plane; ++p)
                reconstruction[(i * 3 + c) * plane + p] =
                    original[(i * plane + p) * 3 + c] / 127.5f - 1.0f + (byte(rng) - 128) / 2048.0f;

    std::uint8_t* d_original = device_copy(original);
    std::uint8_t* d_mask = device_copy(mask);
    float* d_reconstruction = device_copy(reconstruction);
    float* d_map = nullptr;
    color::DeltaEStats* d_stats = nullptr;
    RECOLOR_CUDA_CHECK(cudaMalloc(&d_map, sizeof(float) * pixels));
    RECOLOR_CUDA_CHECK(cudaMalloc(&d_stats, sizeof(color::DeltaEStats) * images));
    const color::DeltaEBatch batch{d_original, d_reconstruction, d_mask, images, height, width};

    cudaEvent_t start, stop;
    RECOLOR_CUDA_CHECK(cudaEventCreate(&start));
    RECOLOR_CUDA_CHECK(cudaEventCreate(&stop));
    recolor::cuda::delta_e_map(batch, d_map, d_stats);  // warm-up
    double seconds = 0;
    for (auto _ : state) {
        RECOLOR_CUDA_CHECK(cudaEventRecord(start));
        recolor::cuda::delta_e_map(batch, d_map, d_stats);
        RECOLOR_CUDA_CHECK(cudaEventRecord(stop));
        RECOLOR_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        RECOLOR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        state.SetIterationTime(ms * 1e-3);
        seconds += ms * 1e-3;
    }
    const double moved = double(pixels * bytes_per_pixel) * double(state.iterations());
    state.counters["Mpixel/s"] =
        benchmark::Counter(double(pixels) * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GB/s"] = benchmark::Counter(moved * 1e-9, benchmark::Counter::kIsRate);
    const double peak = peak_bandwidth();
    if (seconds > 0) state.counters["of_copy"] = moved / seconds / copy_bandwidth();
    if (peak > 0 && seconds > 0) state.counters["of_peak"] = moved / seconds / peak;

    RECOLOR_CUDA_CHECK(cudaEventDestroy(start));
    RECOLOR_CUDA_CHECK(cudaEventDestroy(stop));
    RECOLOR_CUDA_CHECK(cudaFree(d_original));
    RECOLOR_CUDA_CHECK(cudaFree(d_mask));
    RECOLOR_CUDA_CHECK(cudaFree(d_reconstruction));
    RECOLOR_CUDA_CHECK(cudaFree(d_map));
    RECOLOR_CUDA_CHECK(cudaFree(d_stats));
}
BENCHMARK(BM_delta_e_map_cuda)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
        std::printf("delta_e_cuda_bench: no CUDA device (%s)\n",
                    status != cudaSuccess ? cudaGetErrorString(status) : "device count is 0");
        return 0;
    }
    cudaDeviceProp properties{};
    RECOLOR_CUDA_CHECK(cudaGetDeviceProperties(&properties, 0));
    std::printf("device: %s, %d SMs, peak memory bandwidth %.0f GB/s (0: not reported)\n",
                properties.name, properties.multiProcessorCount, peak_bandwidth() * 1e-9);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
