// recolor against LibTorch on CUDA: the cases of recolor_bench (cases.hpp) for
// Tensor<float, CUDA> beside the LibTorch twins on a CUDA device, where the LibTorch found has
// CUDA (on a GPU machine, the one inside the installed PyTorch). Timing waits for the device
// after every iteration. Peak memory on CUDA: recolor's caching pool's reserved bytes after the
// step, LibTorch's caching allocator's peak of reserved bytes during it. The ΔE00 kernel has
// its own binary, delta_e_cuda_bench.
#include <cstdio>
#include <string>

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

int main(int argc, char** argv) {
    using namespace recolor::bench;
    const std::string flag = "--peak-memory=";
    if (argc >= 2 && std::string(argv[1]).rfind(flag, 0) == 0) {
        const std::string side = std::string(argv[1]).substr(flag.size());
        PeakMemory m;
        if (side == "recolor_cuda") {
            m = recolor_peak_memory<recolor::CUDA>();
#if defined(RECOLOR_HAVE_TORCH)
        } else if (side == "libtorch_cuda") {
            if (!torch_peak_memory("cuda", m)) return 1;
#endif
        } else {
            return 2;
        }
        print_peak(m);
        return 0;
    }

    for (const Case& c : all_cases()) {
        register_recolor_case<recolor::CUDA>(c, "recolor_cuda");
#if defined(RECOLOR_HAVE_TORCH)
        register_torch_case(c, "libtorch_cuda", "cuda");
#endif
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
