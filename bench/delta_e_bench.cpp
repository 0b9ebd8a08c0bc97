// Mpixel/s of the ΔE00 map on the CPU: recolor's color::delta_e_map on one thread and on all,
// the same formula in plain double (the library's srgb_to_lab and ciede2000, one pixel at a
// time), and the same formula written with LibTorch tensor operations where LibTorch is found
// (CPU, and CUDA where that LibTorch has it). Inputs: 8 image pairs of 256 x 256, an 8-bit
// original and a float reconstruction near it, as the detector scores a batch. These cases
// register themselves; they make the binary delta_e_bench (with main.cpp) and are linked into
// recolor_bench, where scripts/bench.sh reports them as the case delta_e_map.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <recolor/color.hpp>

#if defined(RECOLOR_HAVE_TORCH)
#include <torch/torch.h>
#endif

namespace color = recolor::color;

namespace {

constexpr int images = 8, height = 256, width = 256;
constexpr std::int64_t plane = std::int64_t(height) * width;
constexpr std::int64_t pixels = images * plane;

struct Inputs {
    std::vector<std::uint8_t> original;  // (N, H, W, 3)
    std::vector<float> reconstruction;   // (N, 3, H, W)
    std::vector<std::uint8_t> mask;      // (N, H, W)

    Inputs() : original(pixels * 3), reconstruction(pixels * 3), mask(pixels) {
        std::mt19937 rng(1);
        std::uniform_int_distribution<int> byte(0, 255);
        std::normal_distribution<float> noise(0.0f, 0.05f);
        for (int i = 0; i < images; ++i)
            for (std::int64_t p = 0; p < plane; ++p) {
                for (int c = 0; c < 3; ++c) {
                    const auto v = std::uint8_t(byte(rng));
                    original[(i * plane + p) * 3 + c] = v;
                    reconstruction[(i * 3 + c) * plane + p] = v / 127.5f - 1.0f + noise(rng);
                }
                mask[i * plane + p] = std::uint8_t(byte(rng) > 100);
            }
    }

    color::DeltaEBatch batch() const {
        return {original.data(), reconstruction.data(), mask.data(), images, height, width};
    }
};

const Inputs& inputs() {
    static const Inputs in;
    return in;
}

// Mpixel per second of wall time ("Mpixel", shown as a rate); and, from the process's CPU time
// (all threads, std::clock), Mpixel per CPU-second, which other work on the machine changes less.
void set_rate(benchmark::State& state, std::clock_t cpu_start) {
    state.counters["Mpixel"] =
        benchmark::Counter(double(pixels) * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
    const double cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    if (cpu_seconds > 0)
        state.counters["Mpixel/cpu_s"] = double(pixels) * 1e-6 * state.iterations() / cpu_seconds;
}

int all_threads() {
#if defined(_OPENMP)
    return omp_get_num_procs();
#else
    return 1;
#endif
}

void set_threads(int threads) {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#endif
#if defined(RECOLOR_HAVE_TORCH)
    at::set_num_threads(threads);
#endif
    (void)threads;
}

// recolor: FastMath, vectorised, OpenMP over chunks.
void BM_delta_e_map_recolor(benchmark::State& state) {
    set_threads(int(state.range(0)));
    const Inputs& in = inputs();
    std::vector<float> map(pixels);
    std::vector<color::DeltaEStats> stats(images);
    const std::clock_t cpu_start = std::clock();
    for (auto _ : state) {
        color::delta_e_map(in.batch(), map.data(), stats.data());
        benchmark::DoNotOptimize(stats.data());
        benchmark::ClobberMemory();
    }
    set_rate(state, cpu_start);
}
BENCHMARK(BM_delta_e_map_recolor)->ArgName("threads")->Arg(1)->Arg(all_threads())->UseRealTime();

// The library's precise functions in double, one pixel after another: what FastMath and the
// vector units buy.
void BM_delta_e_map_scalar_double(benchmark::State& state) {
    const Inputs& in = inputs();
    std::vector<float> map(pixels);
    const std::clock_t cpu_start = std::clock();
    for (auto _ : state) {
        for (int i = 0; i < images; ++i)
            for (std::int64_t p = 0; p < plane; ++p) {
                const std::uint8_t* o = &in.original[(i * plane + p) * 3];
                const float* r = &in.reconstruction[i * 3 * plane + p];
                auto unit = [](float v) { return std::min(1.0, std::max(0.0, (v + 1.0) / 2)); };
                const auto x = color::srgb_to_lab(o[0] / 255.0, o[1] / 255.0, o[2] / 255.0);
                const auto y = color::srgb_to_lab(unit(r[0]), unit(r[plane]), unit(r[2 * plane]));
                map[i * plane + p] = float(color::ciede2000(x, y));
            }
        benchmark::DoNotOptimize(map.data());
        benchmark::ClobberMemory();
    }
    set_rate(state, cpu_start);
}
BENCHMARK(BM_delta_e_map_scalar_double)->UseRealTime();

#if defined(RECOLOR_HAVE_TORCH)

// sRGB in [0, 1], (N, 3, H, W), to L, a, b (each (N, H, W)), as scikit-image's rgb2lab.
std::array<torch::Tensor, 3> lab_torch(const torch::Tensor& rgb) {
    const auto opts = rgb.options();
    const auto linear =
        torch::where(rgb > 0.04045, torch::pow((rgb + 0.055) / 1.055, 2.4), rgb / 12.92);
    const auto m = torch::tensor({0.412453, 0.357580, 0.180423, 0.212671, 0.715160, 0.072169,
                                  0.019334, 0.119193, 0.950227},
                                 opts)
                       .view({3, 3});
    const auto white = torch::tensor({0.95047, 1.0, 1.08883}, opts).view({1, 3, 1, 1});
    const auto t = torch::einsum("ij,njhw->nihw", {m, linear}) / white;
    const auto f = torch::where(t > 0.008856, torch::pow(t, 1.0 / 3), 7.787 * t + 16.0 / 116);
    const auto fx = f.select(1, 0), fy = f.select(1, 1), fz = f.select(1, 2);
    return {116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)};
}

// scikit-image's deltaE_ciede2000, step for step, in tensor operations.
torch::Tensor ciede2000_torch(const std::array<torch::Tensor, 3>& x,
                              const std::array<torch::Tensor, 3>& y) {
    const double pi = color::pi;
    const auto& [l1, a1, b1] = x;
    const auto& [l2, a2, b2] = y;
    const auto c_mean = 0.5 * (torch::hypot(a1, b1) + torch::hypot(a2, b2));
    const auto c7 = torch::pow(c_mean, 7);
    const auto scale = 1 + 0.5 * (1 - torch::sqrt(c7 / (c7 + std::pow(25.0, 7))));
    const auto a1p = a1 * scale, a2p = a2 * scale;
    const auto c1 = torch::hypot(a1p, b1), c2 = torch::hypot(a2p, b2);
    auto h1 = torch::atan2(b1, a1p), h2 = torch::atan2(b2, a2p);
    h1 = torch::where(h1 < 0, h1 + 2 * pi, h1);
    h2 = torch::where(h2 < 0, h2 + 2 * pi, h2);

    const auto l_dev2 = torch::pow(0.5 * (l1 + l2) - 50, 2);
    const auto sl = 1 + 0.015 * l_dev2 / torch::sqrt(20 + l_dev2);
    const auto l_term = (l2 - l1) / sl;
    const auto cp_mean = 0.5 * (c1 + c2);
    const auto c_term = (c2 - c1) / (1 + 0.045 * cp_mean);

    const auto h_diff = h2 - h1, h_sum = h1 + h2, cc = c1 * c2;
    const auto neutral = cc == 0;
    auto dh = torch::where(h_diff > pi, h_diff - 2 * pi, h_diff);
    dh = torch::where(h_diff < -pi, h_diff + 2 * pi, dh);
    dh = torch::where(neutral, torch::zeros_like(dh), dh);
    const auto dh_term = 2 * torch::sqrt(cc) * torch::sin(dh / 2);
    const auto far = torch::abs(h_diff) > pi;
    const auto moved = torch::where(h_sum < 2 * pi, h_sum + 2 * pi, h_sum - 2 * pi);
    const auto h_mean = torch::where(neutral, h_sum, 0.5 * torch::where(far, moved, h_sum));

    const auto t = 1 - 0.17 * torch::cos(h_mean - pi / 6) + 0.24 * torch::cos(2 * h_mean) +
                   0.32 * torch::cos(3 * h_mean + pi / 30) -
                   0.20 * torch::cos(4 * h_mean - 63 * pi / 180);
    const auto h_term = dh_term / (1 + 0.015 * cp_mean * t);
    const auto cp7 = torch::pow(cp_mean, 7);
    const auto rc = 2 * torch::sqrt(cp7 / (cp7 + std::pow(25.0, 7)));
    const auto dtheta = pi / 6 * torch::exp(-torch::pow((h_mean * (180 / pi) - 275) / 25, 2));
    const auto r_term = -torch::sin(2 * dtheta) * rc * c_term * h_term;
    const auto de2 = l_term * l_term + c_term * c_term + h_term * h_term + r_term;
    return torch::sqrt(torch::clamp_min(de2, 0));
}

// The map from the detector's tensors: original uint8 (N, H, W, 3), reconstruction (N, 3, H, W).
torch::Tensor delta_e_map_torch(const torch::Tensor& original,
                                const torch::Tensor& reconstruction) {
    const auto rgb0 = original.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255;
    const auto rgb1 = ((reconstruction + 1) * 0.5).clamp(0, 1);
    return ciede2000_torch(lab_torch(rgb0), lab_torch(rgb1));
}

void run_torch(benchmark::State& state, torch::Device device) {
    const Inputs& in = inputs();
    auto original = torch::from_blob(const_cast<std::uint8_t*>(in.original.data()),
                                     {images, height, width, 3}, torch::kUInt8)
                        .to(device);
    auto reconstruction = torch::from_blob(const_cast<float*>(in.reconstruction.data()),
                                           {images, 3, height, width}, torch::kFloat32)
                              .to(device);
    auto mask = torch::from_blob(const_cast<std::uint8_t*>(in.mask.data()), {images, height, width},
                                 torch::kUInt8)
                    .to(device)
                    .to(torch::kBool);

    // The twin computes what recolor computes: mean |difference| over the batch.
    std::vector<float> ours(pixels);
    color::delta_e_map(in.batch(), ours.data(), nullptr);
    const auto twin = delta_e_map_torch(original, reconstruction).cpu().contiguous();
    const auto reference = torch::from_blob(ours.data(), {images, height, width});
    state.counters["mean|diff|"] = (twin - reference).abs().mean().item<double>();

    const std::clock_t cpu_start = std::clock();
    for (auto _ : state) {
        const auto map = delta_e_map_torch(original, reconstruction);
        const auto sums = map.sum({1, 2});
        const auto masked_mean = (map * mask).sum({1, 2}) / mask.sum({1, 2});
        if (device.is_cuda()) torch::cuda::synchronize();
        benchmark::DoNotOptimize(sums.data_ptr());
        benchmark::DoNotOptimize(masked_mean.data_ptr());
    }
    set_rate(state, cpu_start);
}

void BM_delta_e_map_libtorch_cpu(benchmark::State& state) {
    set_threads(int(state.range(0)));
    run_torch(state, torch::kCPU);
}
BENCHMARK(BM_delta_e_map_libtorch_cpu)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(all_threads())
    ->UseRealTime();

void BM_delta_e_map_libtorch_cuda(benchmark::State& state) {
    if (!torch::cuda::is_available()) {
        state.SkipWithError("this LibTorch has no CUDA device (Debian's libtorch is CPU only)");
        return;
    }
    run_torch(state, torch::kCUDA);
}
BENCHMARK(BM_delta_e_map_libtorch_cuda)->UseRealTime();

#endif  // RECOLOR_HAVE_TORCH

}  // namespace
