// recolor against LibTorch on the CPU, in one binary: every convolution and transposed
// convolution of the 256-px pix2pix forward and backward, batch norm, Adam over the generator,
// the generator's scoring latency and throughput, a whole training step and its peak memory,
// and the ΔE00 map (delta_e_bench.cpp, linked in). Each case is "recolor/<case>" beside
// "libtorch/<case>" where LibTorch is found; scripts/bench.sh runs it and writes the tables.
// Beside them, "openblas/sgemm_2048" measures the BLAS's own rate, the ceiling of the layers.
//
// `recolor_bench --peak-memory=<side>` is the child the peak-memory case starts (cases.hpp).
#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "recolor_cases.hpp"

namespace recolor::bench {

const NetworkWeights& recolor_initial_weights() {
    static const NetworkWeights weights = initial_weights_of_recolor();
    return weights;
}

const std::vector<float>& recolor_generator_output() {
    static const std::vector<float> output = generator_output_of_recolor();
    return output;
}

}  // namespace recolor::bench

namespace {

using namespace recolor::bench;

// The ceiling of an im2col + GEMM convolution on this machine: OpenBLAS's own sgemm on square
// 2048 x 2048 matrices, in the same run. bench/report.py sets the generator's arithmetic
// against it.
void openblas_sgemm_case(benchmark::State& state) {
    constexpr long n = 2048;
    const std::vector<float> a = normal_values(n * n, 11, 1.0f), b = normal_values(n * n, 12, 1.0f);
    std::vector<float> c(n * n);
    for (auto _ : state) {
        recolor::cpu::gemm<float>(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
        benchmark::DoNotOptimize(c.data());
    }
    set_gflops(state, 2.0 * n * n * n);
}

int peak_memory_child(const std::string& side) {
    // Large blocks straight from mmap and back on free: the resident set follows live memory.
    mallopt(M_MMAP_THRESHOLD, 64 << 10);
    mallopt(M_TRIM_THRESHOLD, 64 << 10);
    PeakMemory m;
    if (side == "recolor") {
        m = recolor_peak_memory<recolor::CPU>();
#if defined(RECOLOR_HAVE_TORCH)
    } else if (side == "libtorch") {
        if (!torch_peak_memory("cpu", m)) return 1;
#endif
    } else {
        std::fprintf(stderr, "--peak-memory: unknown side '%s'\n", side.c_str());
        return 2;
    }
    print_peak(m);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 1;
#if defined(_OPENMP)
    threads = omp_get_num_procs();
    omp_set_num_threads(threads);
#endif
#if defined(RECOLOR_HAVE_TORCH)
    torch_set_threads(threads);
#endif
    const std::string flag = "--peak-memory=";
    if (argc >= 2 && std::string(argv[1]).rfind(flag, 0) == 0)
        return peak_memory_child(std::string(argv[1]).substr(flag.size()));

    for (const Case& c : all_cases()) {
        register_recolor_case<recolor::CPU>(c, "recolor");
#if defined(RECOLOR_HAVE_TORCH)
        register_torch_case(c, "libtorch", "cpu");
#endif
    }
    benchmark::RegisterBenchmark("openblas/sgemm_2048", openblas_sgemm_case)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::AddCustomContext("threads", std::to_string(threads));
    // The kernels OpenBLAS chose for this CPU (OPENBLAS_CORETYPE overrides the choice).
    benchmark::AddCustomContext("openblas_core", openblas_get_corename());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
