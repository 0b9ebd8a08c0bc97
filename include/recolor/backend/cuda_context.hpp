// The per-process CUDA context: one device (the current one at first use), one stream that
// every kernel, copy and library call of the backend is issued on, and the cuDNN and cuBLAS
// handles bound to it. It is created on first use and deliberately never destroyed: tensors
// held by static objects may be released after main returns, and tearing the handles down
// before them (or after the runtime has unloaded) would fail; the driver reclaims everything
// at exit.
//
// One stream means that everything the backend enqueues runs in the order it was issued, so a
// buffer released on the host can be handed to the next allocation at once (see
// cuda_allocator.hpp), and a training step can be captured into a CUDA graph by capturing this
// stream. The stream is a blocking one: code that still launches on the legacy default stream
// (stream 0) is ordered with it.
#pragma once

#include <atomic>

#include "recolor/backend/cuda_check.hpp"
#include "recolor/core/log.hpp"

namespace recolor::cuda {

namespace detail {

inline std::atomic<bool>& tf32_flag() {
    static std::atomic<bool> on{false};
    return on;
}

}  // namespace detail

class Context {
  public:
    Context() {
        RECOLOR_CUDA_CHECK(cudaGetDevice(&device_));
        cudaDeviceProp properties{};
        RECOLOR_CUDA_CHECK(cudaGetDeviceProperties(&properties, device_));
        multiprocessors_ = properties.multiProcessorCount;
        RECOLOR_CUDA_CHECK(cudaStreamCreate(&stream_));
        RECOLOR_CUDNN_CHECK(cudnnCreate(&cudnn_));
        RECOLOR_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
        RECOLOR_CUBLAS_CHECK(cublasCreate(&cublas_));
        RECOLOR_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
        apply_math_mode();
        RECOLOR_LOG_INFO("cuda: device " << device_ << " (" << properties.name << ", sm_"
                                         << properties.major << properties.minor << ", "
                                         << multiprocessors_ << " SMs, "
                                         << (properties.totalGlobalMem >> 20) << " MiB), cuDNN "
                                         << cudnnGetVersion());
    }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    int device() const { return device_; }
    int multiprocessors() const { return multiprocessors_; }
    cudaStream_t stream() const { return stream_; }
    cudnnHandle_t cudnn() const { return cudnn_; }
    cublasHandle_t cublas() const { return cublas_; }

    // cuBLAS reads its math mode from the handle; cuDNN's is chosen per convolution.
    void apply_math_mode() {
        const bool tf32 = detail::tf32_flag().load();
        RECOLOR_CUBLAS_CHECK(
            cublasSetMathMode(cublas_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    }

  private:
    int device_ = 0;
    int multiprocessors_ = 1;
    cudaStream_t stream_ = nullptr;
    cudnnHandle_t cudnn_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
};

namespace detail {

inline std::atomic<Context*>& created_context() {
    static std::atomic<Context*> context{nullptr};
    return context;
}

}  // namespace detail

// The context, created on first call (thread-safe); never destroyed, see above.
inline Context& context() {
    static Context* const instance = [] {
        auto* created = new Context();
        detail::created_context().store(created);
        return created;
    }();
    return *instance;
}

inline cudaStream_t stream() {
    return context().stream();
}

// Waits until everything issued so far has run; reports the first asynchronous error.
inline void synchronize() {
    RECOLOR_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

// TF32 tensor cores for float convolutions and matrix products; off by default, so that float
// results match the CPU to about 1e-6. Convolutions choose their algorithm again after a switch.
inline void set_tf32(bool on) {
    detail::tf32_flag().store(on);
    if (Context* created = detail::created_context().load()) created->apply_math_mode();
}
inline bool tf32() {
    return detail::tf32_flag().load();
}

// Launch shapes: 256 threads a block, and at most 32 blocks per SM for grid-stride loops.
inline constexpr int block_threads = 256;

inline unsigned grid_for(long n, long per_thread = 1) {
    const long wanted = (n + block_threads * per_thread - 1) / (block_threads * per_thread);
    const long cap = 32L * context().multiprocessors();
    return static_cast<unsigned>(wanted < 1 ? 1 : (wanted < cap ? wanted : cap));
}

}  // namespace recolor::cuda
