// Convolutions on cuDNN: forward, backward-data and backward-filter over NCHW descriptors (a
// transposed convolution is expressed through these three in ops/conv.hpp). Each geometry gets
// a plan the first time it is seen: its descriptors and, per direction, the algorithm cuDNN's
// heuristics (cudnnGet*_v7) rank first among those that fit the workspace limit and the
// precision asked for. Plans are cached for the life of the process, keyed by the geometry,
// the data type and the TF32 switch. All plans share one workspace, grown to the largest
// need, which is safe because everything runs on the one stream.
//
// Precision: with TF32 off a float convolution runs with CUDNN_FMA_MATH. CUDNN_DEFAULT_MATH
// is not enough: on sm_80 and later it permits TF32 tensor cores for float data, which costs
// about three decimal digits against the CPU. With TF32 on: CUDNN_TENSOR_OP_MATH.
// Limitation: one host thread drives the backend at a time (the cuDNN handle is shared).
#pragma once

#include <array>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

#include "recolor/backend/cuda_allocator.hpp"
#include "recolor/ops/conv_geometry.hpp"

namespace recolor::cuda {

namespace detail {

template <typename T>
constexpr cudnnDataType_t cudnn_data_type() {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "cuda convolutions: float or double tensors");
    return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

// Owning wrappers of the three descriptor kinds.
class TensorDescriptor {
  public:
    TensorDescriptor(cudnnDataType_t type, long n, long c, long h, long w) {
        RECOLOR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
        RECOLOR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, type, int(n),
                                                       int(c), int(h), int(w)));
    }
    ~TensorDescriptor() { RECOLOR_CUDNN_CHECK_NOEXCEPT(cudnnDestroyTensorDescriptor(desc_)); }
    TensorDescriptor(const TensorDescriptor&) = delete;
    TensorDescriptor& operator=(const TensorDescriptor&) = delete;
    cudnnTensorDescriptor_t get() const { return desc_; }

  private:
    cudnnTensorDescriptor_t desc_ = nullptr;
};

class FilterDescriptor {
  public:
    FilterDescriptor(cudnnDataType_t type, long k, long c, long h, long w) {
        RECOLOR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
        RECOLOR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NCHW, int(k),
                                                       int(c), int(h), int(w)));
    }
    ~FilterDescriptor() { RECOLOR_CUDNN_CHECK_NOEXCEPT(cudnnDestroyFilterDescriptor(desc_)); }
    FilterDescriptor(const FilterDescriptor&) = delete;
    FilterDescriptor& operator=(const FilterDescriptor&) = delete;
    cudnnFilterDescriptor_t get() const { return desc_; }

  private:
    cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvolutionDescriptor {
  public:
    ConvolutionDescriptor(cudnnDataType_t type, long stride, long padding, cudnnMathType_t math) {
        RECOLOR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
        RECOLOR_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, int(padding), int(padding),
                                                            int(stride), int(stride), 1, 1,
                                                            CUDNN_CROSS_CORRELATION, type));
        set_math(math);
    }
    ~ConvolutionDescriptor() {
        RECOLOR_CUDNN_CHECK_NOEXCEPT(cudnnDestroyConvolutionDescriptor(desc_));
    }
    ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
    ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
    void set_math(cudnnMathType_t math) {
        RECOLOR_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math));
    }
    cudnnConvolutionDescriptor_t get() const { return desc_; }

  private:
    cudnnConvolutionDescriptor_t desc_ = nullptr;
};

// The algorithm of one direction; each direction has its own convolution descriptor because
// the math type lives there and the chosen algorithms may differ in it.
template <typename Algorithm>
struct ConvChoice {
    bool chosen = false;
    Algorithm algorithm{};
    size_t workspace = 0;
};

struct ConvPlan {
    ConvPlan(const ConvGeometry& g, cudnnDataType_t type, cudnnMathType_t math)
        : x(type, g.batch, g.in_channels, g.in_height, g.in_width),
          y(type, g.batch, g.out_channels, g.out_height, g.out_width),
          w(type, g.out_channels, g.in_channels, g.kernel, g.kernel),
          forward_conv(type, g.stride, g.padding, math),
          data_conv(type, g.stride, g.padding, math),
          filter_conv(type, g.stride, g.padding, math) {}
    TensorDescriptor x, y;
    FilterDescriptor w;
    ConvolutionDescriptor forward_conv, data_conv, filter_conv;
    ConvChoice<cudnnConvolutionFwdAlgo_t> forward;
    ConvChoice<cudnnConvolutionBwdDataAlgo_t> data;
    ConvChoice<cudnnConvolutionBwdFilterAlgo_t> filter;
};

// The largest workspace an algorithm may ask for.
inline constexpr size_t conv_workspace_limit = size_t(1) << 30;

inline std::string geometry_string(const ConvGeometry& g) {
    std::ostringstream out;
    out << "x " << shape_string({g.batch, g.in_channels, g.in_height, g.in_width}) << ", w "
        << shape_string({g.out_channels, g.in_channels, g.kernel, g.kernel}) << ", stride "
        << g.stride << ", padding " << g.padding;
    return out.str();
}

// Picks the best-ranked usable entry of a heuristics list. `workspace_of(algorithm)` asks
// cuDNN for the exact size with the descriptor's math type set to the entry's. With TF32 off,
// float needs an FMA-only entry; failing that, the first usable entry is run with FMA math.
template <typename Perf, typename Algorithm, typename WorkspaceOf>
ConvChoice<Algorithm> choose(const Perf* perf, int count, bool strict_fma,
                             ConvolutionDescriptor& conv, cudnnMathType_t math,
                             WorkspaceOf workspace_of) {
    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < count; ++i) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
            if (strict_fma && pass == 0 && perf[i].mathType != CUDNN_FMA_MATH) continue;
            conv.set_math(strict_fma ? CUDNN_FMA_MATH : perf[i].mathType);
            size_t bytes = 0;
            if (!workspace_of(perf[i].algo, &bytes) || bytes > conv_workspace_limit) continue;
            return ConvChoice<Algorithm>{true, perf[i].algo, bytes};
        }
        if (!strict_fma) break;
    }
    conv.set_math(math);
    return ConvChoice<Algorithm>{};
}

class ConvCache {
  public:
    // The plan of a geometry; created on first use.
    ConvPlan& plan(const ConvGeometry& g, cudnnDataType_t type, bool tf32) {
        for (long v : {g.batch, g.in_channels, g.in_height, g.in_width, g.out_channels,
                       g.out_height, g.out_width, g.kernel, g.stride, g.padding}) {
            RECOLOR_CHECK(v >= 0 && v <= INT_MAX, "cuda conv2d: dimension "
                                                      << v << " exceeds cuDNN's int range in "
                                                      << geometry_string(g));
        }
        const Key key{{g.batch, g.in_channels, g.in_height, g.in_width, g.out_channels,
                       g.out_height, g.out_width, g.kernel, g.stride, g.padding,
                       static_cast<long>(type), tf32 ? 1L : 0L}};
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = plans_.find(key);
        if (it == plans_.end()) {
            const bool is_float = type == CUDNN_DATA_FLOAT;
            const cudnnMathType_t math =
                !is_float ? CUDNN_DEFAULT_MATH : (tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
            it = plans_.emplace(key, std::make_unique<ConvPlan>(g, type, math)).first;
        }
        return *it->second;
    }

    // A workspace of at least `bytes`; grows (through the pool) only when a plan needs more.
    void* workspace(size_t bytes) {
        if (bytes == 0) return nullptr;
        std::lock_guard<std::mutex> lock(mutex_);
        if (bytes > workspace_bytes_) {
            if (workspace_) allocator().deallocate(workspace_);
            workspace_ = allocator().allocate(bytes);
            workspace_bytes_ = bytes;
            RECOLOR_LOG_INFO("cuda: convolution workspace now "
                             << static_cast<double>(bytes) / (1 << 20) << " MiB");
        }
        return workspace_;
    }

  private:
    using Key = std::array<long, 12>;
    std::mutex mutex_;
    std::map<Key, std::unique_ptr<ConvPlan>> plans_;
    void* workspace_ = nullptr;
    size_t workspace_bytes_ = 0;
};

// The process's plans; never destroyed, like the context whose handle they were made with.
inline ConvCache& conv_cache() {
    static ConvCache* const instance = new ConvCache();
    return *instance;
}

}  // namespace detail

struct ConvOps {
    // y (N, C_out, H_out, W_out) = conv(x (N, C_in, H, W), w (C_out, C_in, k, k)).
    template <typename T>
    static void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
        constexpr cudnnDataType_t type = detail::cudnn_data_type<T>();
        const bool tf32 = cuda::tf32();
        cudnnHandle_t handle = context().cudnn();
        detail::ConvPlan& plan = detail::conv_cache().plan(g, type, tf32);
        auto& choice = plan.forward;
        if (!choice.chosen) {
            cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            int count = 0;
            RECOLOR_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
                handle, plan.x.get(), plan.w.get(), plan.forward_conv.get(), plan.y.get(),
                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf));
            choice = detail::choose<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
                perf, count, strict_fma(type, tf32), plan.forward_conv, math(type, tf32),
                [&](cudnnConvolutionFwdAlgo_t algorithm, size_t* bytes) {
                    return cudnnGetConvolutionForwardWorkspaceSize(
                               handle, plan.x.get(), plan.w.get(), plan.forward_conv.get(),
                               plan.y.get(), algorithm, bytes) == CUDNN_STATUS_SUCCESS;
                });
            report(choice.chosen, "forward", static_cast<int>(choice.algorithm), choice.workspace,
                   plan.forward_conv, g);
        }
        const T one = 1, zero = 0;
        void* workspace = detail::conv_cache().workspace(choice.workspace);
        RECOLOR_CUDNN_CHECK(cudnnConvolutionForward(
            handle, &one, plan.x.get(), x, plan.w.get(), w, plan.forward_conv.get(),
            choice.algorithm, workspace, choice.workspace, &zero, plan.y.get(), y));
    }

    // dx = conv2d's gradient with respect to its input (overwritten).
    template <typename T>
    static void conv2d_backward_data(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
        constexpr cudnnDataType_t type = detail::cudnn_data_type<T>();
        const bool tf32 = cuda::tf32();
        cudnnHandle_t handle = context().cudnn();
        detail::ConvPlan& plan = detail::conv_cache().plan(g, type, tf32);
        auto& choice = plan.data;
        if (!choice.chosen) {
            cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
            int count = 0;
            RECOLOR_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                handle, plan.w.get(), plan.y.get(), plan.data_conv.get(), plan.x.get(),
                CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf));
            choice =
                detail::choose<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
                    perf, count, strict_fma(type, tf32), plan.data_conv, math(type, tf32),
                    [&](cudnnConvolutionBwdDataAlgo_t algorithm, size_t* bytes) {
                        return cudnnGetConvolutionBackwardDataWorkspaceSize(
                                   handle, plan.w.get(), plan.y.get(), plan.data_conv.get(),
                                   plan.x.get(), algorithm, bytes) == CUDNN_STATUS_SUCCESS;
                    });
            report(choice.chosen, "backward-data", static_cast<int>(choice.algorithm),
                   choice.workspace, plan.data_conv, g);
        }
        const T one = 1, zero = 0;
        void* workspace = detail::conv_cache().workspace(choice.workspace);
        RECOLOR_CUDNN_CHECK(cudnnConvolutionBackwardData(
            handle, &one, plan.w.get(), w, plan.y.get(), dy, plan.data_conv.get(), choice.algorithm,
            workspace, choice.workspace, &zero, plan.x.get(), dx));
    }

    // dw = conv2d's gradient with respect to its weights (overwritten).
    template <typename T>
    static void conv2d_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
        constexpr cudnnDataType_t type = detail::cudnn_data_type<T>();
        const bool tf32 = cuda::tf32();
        cudnnHandle_t handle = context().cudnn();
        detail::ConvPlan& plan = detail::conv_cache().plan(g, type, tf32);
        auto& choice = plan.filter;
        if (!choice.chosen) {
            cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
            int count = 0;
            RECOLOR_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                handle, plan.x.get(), plan.y.get(), plan.filter_conv.get(), plan.w.get(),
                CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf));
            choice = detail::choose<cudnnConvolutionBwdFilterAlgoPerf_t,
                                    cudnnConvolutionBwdFilterAlgo_t>(
                perf, count, strict_fma(type, tf32), plan.filter_conv, math(type, tf32),
                [&](cudnnConvolutionBwdFilterAlgo_t algorithm, size_t* bytes) {
                    return cudnnGetConvolutionBackwardFilterWorkspaceSize(
                               handle, plan.x.get(), plan.y.get(), plan.filter_conv.get(),
                               plan.w.get(), algorithm, bytes) == CUDNN_STATUS_SUCCESS;
                });
            report(choice.chosen, "backward-filter", static_cast<int>(choice.algorithm),
                   choice.workspace, plan.filter_conv, g);
        }
        const T one = 1, zero = 0;
        void* workspace = detail::conv_cache().workspace(choice.workspace);
        RECOLOR_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
            handle, &one, plan.x.get(), x, plan.y.get(), dy, plan.filter_conv.get(),
            choice.algorithm, workspace, choice.workspace, &zero, plan.w.get(), dw));
    }

  private:
    static bool strict_fma(cudnnDataType_t type, bool tf32) {
        return type == CUDNN_DATA_FLOAT && !tf32;
    }
    static cudnnMathType_t math(cudnnDataType_t type, bool tf32) {
        if (type != CUDNN_DATA_FLOAT) return CUDNN_DEFAULT_MATH;
        return tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    }
    // Fails when no algorithm fits; logs the choice (RECOLOR_LOG=info), math type included.
    static void report(bool chosen, const char* direction, int algorithm, size_t workspace,
                       const detail::ConvolutionDescriptor& conv, const ConvGeometry& g) {
        RECOLOR_CHECK(chosen, "cuda conv2d: cuDNN offers no "
                                  << direction << " algorithm within "
                                  << (detail::conv_workspace_limit >> 20)
                                  << " MiB of workspace for " << detail::geometry_string(g));
        cudnnMathType_t used = CUDNN_DEFAULT_MATH;
        RECOLOR_CUDNN_CHECK(cudnnGetConvolutionMathType(conv.get(), &used));
        const char* math_name = used == CUDNN_FMA_MATH         ? "FMA"
                                : used == CUDNN_TENSOR_OP_MATH ? "tensor op"
                                                               : "default";
        RECOLOR_LOG_INFO("cuda: conv2d " << direction << " " << detail::geometry_string(g)
                                         << ": algorithm " << algorithm << ", " << math_name
                                         << " math, workspace " << (workspace >> 20) << " MiB");
    }
};

}  // namespace recolor::cuda
