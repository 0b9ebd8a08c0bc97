// Row-major matrix products on the CPU, through CBLAS (OpenBLAS): sgemm for float, dgemm for
// double (the gradient checks). No hand-written GEMM.
#pragma once

#include <cblas.h>

#include <type_traits>

namespace recolor::cpu {

// C = alpha * op(A) * op(B) + beta * C, all row-major; op(A) is M x K, op(B) is K x N.
template <typename T>
void gemm(bool trans_a, bool trans_b, long m, long n, long k, T alpha, const T* a, const T* b,
          T beta, T* c) {
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    const long lda = trans_a ? m : k, ldb = trans_b ? k : n;
    if constexpr (std::is_same_v<T, float>) {
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
    } else {
        static_assert(std::is_same_v<T, double>, "gemm: float or double");
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
    }
}

}  // namespace recolor::cpu
