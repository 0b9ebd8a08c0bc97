// One check macro per CUDA library. Each throws recolor::Error with the failed expression,
// file:line and the library's own message; the *_NOEXCEPT variants print the same line to
// stderr instead, for destructors and deleters, which must not throw.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdio>
#include <string>

#include "recolor/core/error.hpp"

namespace recolor::cuda::detail {

inline std::string runtime_message(cudaError_t status) {
    return std::string("CUDA runtime: ") + cudaGetErrorName(status) + ": " +
           cudaGetErrorString(status);
}
inline std::string cudnn_message(cudnnStatus_t status) {
    return std::string("cuDNN: ") + cudnnGetErrorString(status);
}
inline std::string cublas_message(cublasStatus_t status) {
    return std::string("cuBLAS: ") + cublasGetStatusName(status) + ": " +
           cublasGetStatusString(status);
}

inline void print_failure(const char* expr, const char* file, int line, const std::string& msg) {
    std::fprintf(stderr, "[recolor] %s (check `%s` failed at %s:%d)\n", msg.c_str(), expr, file,
                 line);
}

}  // namespace recolor::cuda::detail

#define RECOLOR_LIBRARY_CHECK_(expr, ok, message_of)                                       \
    do {                                                                                   \
        const auto recolor_status_ = (expr);                                               \
        if (recolor_status_ != (ok)) {                                                     \
            ::recolor::detail::fail(#expr, __FILE__, __LINE__,                             \
                                    ::recolor::cuda::detail::message_of(recolor_status_)); \
        }                                                                                  \
    } while (0)

#define RECOLOR_LIBRARY_CHECK_NOEXCEPT_(expr, ok, message_of)                                     \
    do {                                                                                          \
        const auto recolor_status_ = (expr);                                                      \
        if (recolor_status_ != (ok)) {                                                            \
            ::recolor::cuda::detail::print_failure(                                               \
                #expr, __FILE__, __LINE__, ::recolor::cuda::detail::message_of(recolor_status_)); \
        }                                                                                         \
    } while (0)

#define RECOLOR_CUDA_CHECK(expr) RECOLOR_LIBRARY_CHECK_(expr, cudaSuccess, runtime_message)
#define RECOLOR_CUDNN_CHECK(expr) RECOLOR_LIBRARY_CHECK_(expr, CUDNN_STATUS_SUCCESS, cudnn_message)
#define RECOLOR_CUBLAS_CHECK(expr) \
    RECOLOR_LIBRARY_CHECK_(expr, CUBLAS_STATUS_SUCCESS, cublas_message)

#define RECOLOR_CUDA_CHECK_NOEXCEPT(expr) \
    RECOLOR_LIBRARY_CHECK_NOEXCEPT_(expr, cudaSuccess, runtime_message)
#define RECOLOR_CUDNN_CHECK_NOEXCEPT(expr) \
    RECOLOR_LIBRARY_CHECK_NOEXCEPT_(expr, CUDNN_STATUS_SUCCESS, cudnn_message)
#define RECOLOR_CUBLAS_CHECK_NOEXCEPT(expr) \
    RECOLOR_LIBRARY_CHECK_NOEXCEPT_(expr, CUBLAS_STATUS_SUCCESS, cublas_message)

// After a kernel launch: reports a bad launch configuration (it does not wait for the kernel).
#define RECOLOR_CUDA_CHECK_LAUNCH() RECOLOR_CUDA_CHECK(cudaGetLastError())
