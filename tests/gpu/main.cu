// The GPU test runner: doctest, unless this machine has no CUDA device, in which case it says
// so and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdio>

int main(int argc, char** argv) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
        std::printf("gpu suite: skipped: no CUDA device (%s)\n",
                    status != cudaSuccess ? cudaGetErrorString(status) : "device count is 0");
        return 77;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
