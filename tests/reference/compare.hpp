// Element-wise comparison against a stored reference, as llm.c checks its kernels: an element
// passes when |got - ref| <= rtol |ref| + atol. The absolute part is relative to the array's
// largest magnitude, so near-zero elements of a large-valued array are judged on its scale.
// A failure prints the first few mismatches with their flat index.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace recolor::testing {

inline void check_close(const std::string& what, const std::vector<float>& got,
                        const std::vector<float>& ref, double rtol = 1e-5) {
    REQUIRE_MESSAGE(got.size() == ref.size(),
                    what << ": " << got.size() << " values, reference has " << ref.size());
    double largest = 0;
    for (float r : ref) largest = std::max(largest, std::abs(static_cast<double>(r)));
    const double atol = rtol * largest;
    int shown = 0, failures = 0;
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double g = got[i], r = ref[i], error = std::abs(g - r);
        if (std::isfinite(g) && error <= rtol * std::abs(r) + atol) continue;
        ++failures;
        worst = std::max(worst, error);
        if (shown++ < 5) MESSAGE(what << "[" << i << "]: got " << g << ", PyTorch " << r);
    }
    CHECK_MESSAGE(failures == 0, what << ": " << failures << " of " << ref.size()
                                      << " elements differ; largest error " << worst);
}

}  // namespace recolor::testing
