// The benchmark cases that recolor and its LibTorch twin share: the layer shapes of the 256-px
// pix2pix (U-Net generator with ngf 64, PatchGAN with ndf 64 and three layers, batch 1), the
// batch-norm shapes, the seeded data both sides read, the counters both report, and how the
// peak memory of a training step is read from the kernel.
//
// Names: every benchmark is "<side>/<case>", side "recolor" or "libtorch" (with "_cuda" on the
// GPU), so that scripts/bench.sh pairs the two by case. This header includes neither recolor
// nor LibTorch: the LibTorch twins (torch_cases.cpp) get the initial weights from the recolor
// side through recolor_initial_weights(), as plain vectors.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace recolor::bench {

// One convolution or transposed convolution: input (1, in_channels, size, size).
struct LayerCase {
    const char* where;  // the layers of the networks with this shape
    long in_channels, out_channels, size, kernel, stride, padding;
    bool transposed, bias;

    long out_size() const {
        return transposed ? (size - 1) * stride - 2 * padding + kernel
                          : (size + 2 * padding - kernel) / stride + 1;
    }
    // Multiply-adds x 2 of the forward pass (the convolution's, or of the one it transposes).
    double flops() const {
        const long o = out_size();
        return transposed ? 2.0 * size * size * in_channels * out_channels * kernel * kernel
                          : 2.0 * o * o * in_channels * out_channels * kernel * kernel;
    }
    std::string name() const {
        return std::string(transposed ? "conv_transpose/" : "conv/") + "1x" +
               std::to_string(in_channels) + "x" + std::to_string(size) + "x" +
               std::to_string(size) + "_to_" + std::to_string(out_channels) + "_k" +
               std::to_string(kernel) + "s" + std::to_string(stride);
    }
};

// Every distinct shape, in network order. The PatchGAN's 64 -> 128 and 128 -> 256 layers have
// the shapes of the U-Net's second and third down convolutions and are measured once.
inline const std::vector<LayerCase>& layer_cases() {
    static const std::vector<LayerCase> cases = {
        {"G down 1", 1, 64, 256, 4, 2, 1, false, false},
        {"G down 2, D 2", 64, 128, 128, 4, 2, 1, false, false},
        {"G down 3, D 3", 128, 256, 64, 4, 2, 1, false, false},
        {"G down 4", 256, 512, 32, 4, 2, 1, false, false},
        {"G down 5", 512, 512, 16, 4, 2, 1, false, false},
        {"G down 6", 512, 512, 8, 4, 2, 1, false, false},
        {"G down 7", 512, 512, 4, 4, 2, 1, false, false},
        {"G down 8", 512, 512, 2, 4, 2, 1, false, false},
        {"G up 8", 512, 512, 1, 4, 2, 1, true, false},
        {"G up 7", 1024, 512, 2, 4, 2, 1, true, false},
        {"G up 6", 1024, 512, 4, 4, 2, 1, true, false},
        {"G up 5", 1024, 512, 8, 4, 2, 1, true, false},
        {"G up 4", 1024, 256, 16, 4, 2, 1, true, false},
        {"G up 3", 512, 128, 32, 4, 2, 1, true, false},
        {"G up 2", 256, 64, 64, 4, 2, 1, true, false},
        {"G up 1", 128, 3, 128, 4, 2, 1, true, true},
        {"D 1", 4, 64, 256, 4, 2, 1, false, true},
        {"D 4", 256, 512, 32, 4, 1, 1, false, false},
        {"D 5", 512, 1, 31, 4, 1, 1, false, true},
    };
    return cases;
}

// FLOPs of one generator forward per image: the U-Net's sixteen layers.
inline double generator_flops() {
    double total = 0;
    for (const LayerCase& c : layer_cases())
        if (c.where[0] == 'G') total += c.flops();
    return total;
}

// Batch-norm inputs (1, channels, size, size): the largest of the U-Net's and the PatchGAN's.
struct NormCase {
    long channels, size;
    std::string name() const {
        return "batch_norm/1x" + std::to_string(channels) + "x" + std::to_string(size) + "x" +
               std::to_string(size);
    }
    long numel() const { return channels * size * size; }
};

inline const std::vector<NormCase>& norm_cases() {
    static const std::vector<NormCase> cases = {
        {64, 128}, {128, 64}, {256, 32}, {512, 16}, {512, 31}};
    return cases;
}

constexpr long image_size = 256;

// One benchmark case, as both sides register it; index is the layer, the norm shape or the
// scoring batch.
struct Case {
    enum Kind {
        conv_forward,
        conv_backward,
        norm_forward,
        norm_backward,
        adam,
        generator_forward,
        train_step,
        peak_memory
    } kind;
    long index;
    std::string name;
};

// Every case, in the order they run: recolor and LibTorch alternate case by case, so that both
// see the same machine when other work comes and goes.
inline std::vector<Case> all_cases() {
    std::vector<Case> out;
    const auto& layers = layer_cases();
    for (size_t i = 0; i < layers.size(); ++i) {
        out.push_back({Case::conv_forward, long(i), layers[i].name() + "/forward"});
        out.push_back({Case::conv_backward, long(i), layers[i].name() + "/backward"});
    }
    const auto& norms = norm_cases();
    for (size_t i = 0; i < norms.size(); ++i) {
        out.push_back({Case::norm_forward, long(i), norms[i].name() + "/forward"});
        out.push_back({Case::norm_backward, long(i), norms[i].name() + "/backward"});
    }
    out.push_back({Case::adam, 0, "adam_step"});
    for (long b : {1L, 16L, 64L})
        out.push_back({Case::generator_forward, b, "generator_forward_b" + std::to_string(b)});
    out.push_back({Case::train_step, 0, "train_step"});
    out.push_back({Case::peak_memory, 0, "train_step_peak_memory"});
    return out;
}

// The slowest cases (about a second an iteration and more) run for at least this long, several
// iterations in each repetition, so that one slow iteration on a busy machine does not make the
// figure; 0 leaves the command line's --benchmark_min_time.
inline double min_seconds(const Case& c) {
    const bool slow =
        c.kind == Case::train_step || (c.kind == Case::generator_forward && c.index >= 16);
    return slow ? 5.0 : 0.0;
}

// This program's path, to start it again as the peak-memory child.
inline std::string self_path() {
    return std::filesystem::read_symlink("/proc/self/exe").string();
}

// Bytes a kernel must move per element: batch norm reads x and writes y forward, reads x and
// dy and writes dx backward; Adam reads parameter, gradient and both moments and writes back
// the parameter and the moments.
constexpr double norm_forward_bytes = 8, norm_backward_bytes = 12, adam_bytes = 28;

// n values drawn from N(mean, stddev) with a seed; both sides read the same vectors.
inline std::vector<float> normal_values(long n, uint64_t seed, float stddev, float mean = 0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(mean, stddev);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = normal(rng);
    return v;
}

// n values uniform in [-1, 1]: the images (gray and colour) as pix2pix sees them.
inline std::vector<float> image_values(long n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = uniform(rng);
    return v;
}

// The rate counters shown next to the times (Google Benchmark appends the "/s").
inline void set_gflops(benchmark::State& state, double flops) {
    state.counters["GFLOP"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
inline void set_gbytes(benchmark::State& state, double bytes) {
    state.counters["GB"] =
        benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
inline void set_images(benchmark::State& state, double images) {
    state.counters["images"] =
        benchmark::Counter(images, benchmark::Counter::kIsIterationInvariantRate);
}

// The pix2pix weights recolor initialises (Pix2PixConfig's defaults, seed 0), parameter by
// parameter in registration order; the LibTorch twins copy them.
struct NetworkWeights {
    std::vector<std::vector<float>> generator, discriminator;
};
const NetworkWeights& recolor_initial_weights();

// recolor's generator output (eval mode) for the batch-1 scoring input: the twin's output is
// compared with it (the counter max|diff|), which checks architecture and weights alike.
const std::vector<float>& recolor_generator_output();

// Peak memory of a training step, read from the kernel. The step runs in a child process (the
// benchmark binary, started again with --peak-memory=<side>) that builds the model, runs one
// step to warm up (LibTorch's Adam creates its moments there), reads its resident set, resets
// the high-water mark (/proc/self/clear_refs), runs a second step and reads VmHWM. Large
// blocks are mmap'ed and unmapped on free (the child fixes glibc's mmap threshold), so the
// resident set follows what is live rather than what the heap keeps.
struct PeakMemory {
    double resident_before_mib = 0;  // model, optimiser state, libraries, after the warm-up
    double peak_mib = 0;             // VmHWM during the measured step
    double step_seconds = 0;
};

// A field of /proc/self/status in MiB ("VmRSS", "VmHWM").
inline double proc_status_mib(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024;
    }
    return 0;
}
inline bool reset_peak_resident() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    return bool(clear);
}

// Runs `self --peak-memory=<side>` and parses its one line of output.
inline bool run_peak_child(const std::string& self, const std::string& side, PeakMemory& out) {
    const std::string command = "'" + self + "' --peak-memory=" + side + " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return false;
    const int read = std::fscanf(pipe, "%lf %lf %lf", &out.resident_before_mib, &out.peak_mib,
                                 &out.step_seconds);
    return pclose(pipe) == 0 && read == 3;
}

// The benchmark "<side>/train_step_peak_memory": one child per run; counters in MiB.
inline void peak_memory_case(benchmark::State& state, const std::string& self,
                             const std::string& side) {
    PeakMemory m;
    for (auto _ : state) {
        if (!run_peak_child(self, side, m)) {
            state.SkipWithError("the --peak-memory child failed");
            return;
        }
        state.SetIterationTime(m.step_seconds);
    }
    state.counters["peak_MiB"] = m.peak_mib;
    state.counters["step_MiB"] = m.peak_mib - m.resident_before_mib;
}

inline void print_peak(const PeakMemory& m) {
    std::printf("%.1f %.1f %.6f\n", m.resident_before_mib, m.peak_mib, m.step_seconds);
}

// The LibTorch twins (torch_cases.cpp), where LibTorch is found; device "cpu" or "cuda",
// side "libtorch" or "libtorch_cuda".
void register_torch_case(const Case& c, const std::string& side, const std::string& device);
bool torch_peak_memory(const std::string& device, PeakMemory& out);
void torch_set_threads(int threads);

}  // namespace recolor::bench
