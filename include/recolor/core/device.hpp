// Devices are tag types. Each device has a Backend<Device> specialisation with the same static
// functions (allocation, copies, element-wise maps, convolution, batch norm, reductions, Adam):
// the CPU one lives in backend/cpu*.hpp, the CUDA one in kernels/ and is compiled by nvcc only.
#pragma once

#include <string_view>
#include <type_traits>

namespace recolor {

struct CPU {
    static constexpr std::string_view name = "cpu";
};
struct CUDA {
    static constexpr std::string_view name = "cuda";
};

template <typename Device>
struct Backend;

template <typename Device>
inline constexpr bool is_cpu = std::is_same_v<Device, CPU>;

}  // namespace recolor
