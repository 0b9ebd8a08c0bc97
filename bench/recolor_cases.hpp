// recolor's side of the benchmarks, for any device: Tensor<float, CPU> in recolor_bench.cpp,
// Tensor<float, CUDA> in recolor_cuda_bench.cu. Each case runs what the framework runs in
// training or scoring: the ops with their allocations, and for a backward pass the very
// closure autograd recorded (called again on every iteration).
#pragma once

#include <chrono>
#include <string>
#include <type_traits>

#include "cases.hpp"
#include "recolor/detector/pix2pix.hpp"

namespace recolor::bench {

// Waits for the device: a no-op on the CPU.
template <typename D>
void finish() {
#if defined(__CUDACC__) && defined(RECOLOR_WITH_CUDA)
    if constexpr (std::is_same_v<D, CUDA>) cuda::synchronize();
#endif
}

// One untimed call before the timed loop: a case slower than the minimum time is measured
// on a single iteration, which would otherwise be the first, with its one-off allocations
// (Adam's moments, the convolution workspaces, cuDNN's algorithm choice).
template <typename D, typename F>
void warm_up(F f) {
    f();
    finish<D>();
}

template <typename D>
Tensor<float, D> tensor_of(const Shape& shape, const std::vector<float>& values) {
    return Tensor<float, D>::from_vector(shape, values);
}

// The weights recolor's Pix2Pix starts from, as plain vectors for the twins.
inline NetworkWeights initial_weights_of_recolor() {
    detector::Pix2Pix<CPU> model{detector::Pix2PixConfig{}};
    NetworkWeights w;
    for (const auto& p : model.generator.parameters()) w.generator.push_back(p.to_vector());
    for (const auto& p : model.discriminator.parameters()) w.discriminator.push_back(p.to_vector());
    return w;
}

inline std::vector<float> generator_output_of_recolor() {
    detector::Generator<CPU> generator(image_size, 64);
    nn::init_weights(generator, 0);
    generator.eval();
    NoGradGuard no_grad;
    const long plane = image_size * image_size;
    return generator.forward(tensor_of<CPU>({1, 1, image_size, image_size}, image_values(plane, 8)))
        .to_vector();
}

// One layer's input, weight and bias, seeded as the twin seeds them.
template <typename D>
struct LayerTensors {
    Tensor<float, D> x, weight, bias;

    explicit LayerTensors(const LayerCase& c, bool grad) {
        const long s = c.size, k = c.kernel;
        x = tensor_of<D>({1, c.in_channels, s, s}, normal_values(c.in_channels * s * s, 1, 1.0f));
        const Shape w_shape = c.transposed ? Shape{c.in_channels, c.out_channels, k, k}
                                           : Shape{c.out_channels, c.in_channels, k, k};
        weight = tensor_of<D>(w_shape, normal_values(shape_numel(w_shape), 2, 0.02f));
        if (c.bias) bias = tensor_of<D>({c.out_channels}, normal_values(c.out_channels, 3, 0.02f));
        if (grad) {
            x.set_requires_grad(true);
            weight.set_requires_grad(true);
            if (c.bias) bias.set_requires_grad(true);
        }
    }
    Tensor<float, D> forward(const LayerCase& c) const {
        return c.transposed ? conv_transpose2d(x, weight, bias, c.stride, c.padding)
                            : conv2d(x, weight, bias, c.stride, c.padding);
    }
};

template <typename D>
void conv_forward_case(benchmark::State& state, const LayerCase& c) {
    NoGradGuard no_grad;
    const LayerTensors<D> t(c, false);
    for (auto _ : state) {
        Tensor<float, D> y = t.forward(c);
        finish<D>();
        benchmark::DoNotOptimize(y.data());
    }
    set_gflops(state, c.flops());
}

// Input, weight and bias gradients: the recorded conv2d / conv_transpose2d closure.
template <typename D>
void conv_backward_case(benchmark::State& state, const LayerCase& c) {
    const LayerTensors<D> t(c, true);
    Tensor<float, D> y = t.forward(c);
    const Tensor<float, D> dy = tensor_of<D>(y.shape(), normal_values(y.numel(), 4, 1.0f));
    const auto node = y.impl()->grad_fn;
    for (auto _ : state) {
        std::vector<Tensor<float, D>> grads = node->backward(dy);
        finish<D>();
        benchmark::DoNotOptimize(grads.data());
    }
    set_gflops(state, 2 * c.flops());
}

template <typename D>
struct NormTensors {
    Tensor<float, D> x, weight, bias, running_mean, running_var;

    NormTensors(const NormCase& c, bool grad) {
        const long ch = c.channels;
        x = tensor_of<D>({1, ch, c.size, c.size}, normal_values(c.numel(), 5, 1.0f, 0.5f));
        weight = tensor_of<D>({ch}, normal_values(ch, 6, 0.02f, 1.0f));
        bias = Tensor<float, D>::zeros({ch});
        running_mean = Tensor<float, D>::zeros({ch});
        running_var = Tensor<float, D>::ones({ch});
        if (grad) {
            x.set_requires_grad(true);
            weight.set_requires_grad(true);
            bias.set_requires_grad(true);
        }
    }
    Tensor<float, D> forward() const {
        return batch_norm2d(x, weight, bias, running_mean, running_var, true);
    }
};

// Training mode: batch statistics, running statistics updated.
template <typename D>
void norm_forward_case(benchmark::State& state, const NormCase& c) {
    NoGradGuard no_grad;
    const NormTensors<D> t(c, false);
    for (auto _ : state) {
        Tensor<float, D> y = t.forward();
        finish<D>();
        benchmark::DoNotOptimize(y.data());
    }
    set_gbytes(state, norm_forward_bytes * c.numel());
}

template <typename D>
void norm_backward_case(benchmark::State& state, const NormCase& c) {
    const NormTensors<D> t(c, true);
    Tensor<float, D> y = t.forward();
    const Tensor<float, D> dy = tensor_of<D>(y.shape(), normal_values(y.numel(), 7, 1.0f));
    const auto node = y.impl()->grad_fn;
    for (auto _ : state) {
        std::vector<Tensor<float, D>> grads = node->backward(dy);
        finish<D>();
        benchmark::DoNotOptimize(grads.data());
    }
    set_gbytes(state, norm_backward_bytes * c.numel());
}

// One Adam step over every generator parameter, with pix2pix's options; gradient i is seeded
// 1000 + i on both sides.
template <typename D>
void adam_case(benchmark::State& state) {
    detector::Generator<D> generator(image_size, 64);
    nn::init_weights(generator, 0);
    std::vector<Tensor<float, D>> params = generator.parameters();
    long numel = 0;
    for (size_t i = 0; i < params.size(); ++i) {
        const Tensor<float, D> g =
            tensor_of<D>(params[i].shape(), normal_values(params[i].numel(), 1000 + i, 1e-3f));
        params[i].impl()->grad = g.impl();
        numel += params[i].numel();
    }
    optim::AdamOptions options;
    options.lr = 1.5e-4, options.beta1 = 0.5, options.beta2 = 0.999;
    optim::Adam<float, D> adam(params, options);
    for (auto _ : state) {
        adam.step();
        finish<D>();
    }
    set_gbytes(state, adam_bytes * numel);
    state.counters["parameters"] = double(numel);
}

// Scoring: eval mode (running statistics, no dropout), no graph.
template <typename D>
void generator_forward_case(benchmark::State& state, long batch) {
    detector::Generator<D> generator(image_size, 64);
    nn::init_weights(generator, 0);
    generator.eval();
    NoGradGuard no_grad;
    const long plane = image_size * image_size;
    const Tensor<float, D> gray =
        tensor_of<D>({batch, 1, image_size, image_size}, image_values(batch * plane, 8));
    warm_up<D>([&] { generator.forward(gray); });
    for (auto _ : state) {
        Tensor<float, D> colour = generator.forward(gray);
        finish<D>();
        benchmark::DoNotOptimize(colour.data());
    }
    set_images(state, double(batch));
    set_gflops(state, batch * generator_flops());
}

// The seeded batch of one step: gray (1, 1, 256, 256) and its colours (1, 3, 256, 256).
template <typename D>
std::pair<Tensor<float, D>, Tensor<float, D>> training_pair() {
    const long plane = image_size * image_size;
    return {tensor_of<D>({1, 1, image_size, image_size}, image_values(plane, 9)),
            tensor_of<D>({1, 3, image_size, image_size}, image_values(3 * plane, 10))};
}

// Pix2Pix::train_step: generator forward, discriminator on fake and real pairs, its backward
// and Adam step, then the generator's loss, backward and Adam step.
template <typename D>
void train_step_case(benchmark::State& state) {
    detector::Pix2Pix<D> model{detector::Pix2PixConfig{}};
    const auto [gray, colour] = training_pair<D>();
    warm_up<D>([&] { model.train_step(gray, colour); });
    for (auto _ : state) {
        model.train_step(gray, colour);
        finish<D>();
    }
    set_images(state, 1);
}

// The child's side of the peak-memory case (see cases.hpp). On CUDA the figure is the caching
// pool's reserved bytes after the step: what the process holds from the driver.
template <typename D>
PeakMemory recolor_peak_memory() {
    detector::Pix2Pix<D> model{detector::Pix2PixConfig{}};
    const auto [gray, colour] = training_pair<D>();
    model.train_step(gray, colour);
    finish<D>();
    PeakMemory m;
    m.resident_before_mib = proc_status_mib("VmRSS");
    reset_peak_resident();
    const auto start = std::chrono::steady_clock::now();
    model.train_step(gray, colour);
    finish<D>();
    m.step_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.peak_mib = proc_status_mib("VmHWM");
#if defined(__CUDACC__) && defined(RECOLOR_WITH_CUDA)
    if constexpr (std::is_same_v<D, CUDA>) {
        m.resident_before_mib = 0;
        m.peak_mib = double(cuda::memory_stats().reserved_bytes) / (1 << 20);
    }
#endif
    return m;
}

// Registers recolor's benchmark for one case under "<side>/<case>".
template <typename D>
void register_recolor_case(const Case& c, const std::string& side) {
    const std::string name = side + "/" + c.name;
    benchmark::internal::Benchmark* b = nullptr;
    switch (c.kind) {
        case Case::conv_forward:
            b = benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) {
                conv_forward_case<D>(s, layer_cases()[c.index]);
            });
            break;
        case Case::conv_backward:
            b = benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) {
                conv_backward_case<D>(s, layer_cases()[c.index]);
            });
            break;
        case Case::norm_forward:
            b = benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) {
                norm_forward_case<D>(s, norm_cases()[c.index]);
            });
            break;
        case Case::norm_backward:
            b = benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) {
                norm_backward_case<D>(s, norm_cases()[c.index]);
            });
            break;
        case Case::adam:
            b = benchmark::RegisterBenchmark(name.c_str(), adam_case<D>);
            break;
        case Case::generator_forward:
            b = benchmark::RegisterBenchmark(
                name.c_str(), [c](benchmark::State& s) { generator_forward_case<D>(s, c.index); });
            break;
        case Case::train_step:
            b = benchmark::RegisterBenchmark(name.c_str(), train_step_case<D>);
            break;
        case Case::peak_memory:
            b = benchmark::RegisterBenchmark(name.c_str(), [side](benchmark::State& s) {
                peak_memory_case(s, self_path(), side);
            });
            b->UseManualTime()->Iterations(1);
            break;
    }
    b->Unit(benchmark::kMillisecond);
    if (c.kind != Case::peak_memory) b->UseRealTime();
    if (const double seconds = min_seconds(c)) b->MinTime(seconds);
}

}  // namespace recolor::bench
