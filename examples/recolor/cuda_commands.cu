// The recolor program's commands with the model on CUDA. nvcc compiles this file only, so that
// main.cpp and the CPU path keep the host compiler's flags (-march=native, OpenMP), which reach
// CXX sources alone.
#include <cuda_runtime.h>

#include "commands.hpp"

namespace recolor::cli {

int run_command_cuda(const Command& c) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    RECOLOR_CHECK(status == cudaSuccess && devices > 0,
                  "--device cuda: no CUDA device on this machine ("
                      << (status != cudaSuccess ? cudaGetErrorString(status) : "device count 0")
                      << ")");
    return run_command<CUDA>(c);
}

}  // namespace recolor::cli
