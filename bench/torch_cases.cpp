// The LibTorch twins: pix2pix written with torch::nn as the reference implementation writes it
// (Isola et al.'s UnetSkipConnectionBlock and NLayerDiscriminator), started from recolor's
// initial weights, fed the same seeded data, timed the same way. The only translation unit that
// includes LibTorch's headers (they compile slowly); it includes none of recolor's.
//
// What differs by necessity: dropout masks (LibTorch draws its own) and hence the losses after
// the first step; nothing that changes the work done.
#include <torch/torch.h>

#include <chrono>
#include <memory>

// Set by CMake where the LibTorch found has CUDA (TORCH_CUDA_LIBRARIES).
#if defined(RECOLOR_BENCH_TORCH_CUDA_STATS)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "cases.hpp"

namespace recolor::bench {

namespace {

namespace tnn = torch::nn;

// One U-Net level, as recolor's UnetBlock (and with its parameters in the same order).
struct UnetBlockImpl : tnn::Module {
    enum class Kind { outermost, middle, innermost };

    UnetBlockImpl(Kind kind, long outer_channels, long inner_channels, long input_channels,
                  std::shared_ptr<UnetBlockImpl> inner, double dropout)
        : kind(kind), inner(std::move(inner)), dropout(dropout) {
        down = register_module("down",
                               tnn::Conv2d(tnn::Conv2dOptions(input_channels, inner_channels, 4)
                                               .stride(2)
                                               .padding(1)
                                               .bias(false)));
        if (kind == Kind::middle)
            down_norm = register_module("down_norm", tnn::BatchNorm2d(inner_channels));
        if (this->inner) register_module("inner", this->inner);
        const long up_in = kind == Kind::innermost ? inner_channels : 2 * inner_channels;
        up = register_module(
            "up", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(up_in, outer_channels, 4)
                                           .stride(2)
                                           .padding(1)
                                           .bias(kind == Kind::outermost)));
        if (kind != Kind::outermost)
            up_norm = register_module("up_norm", tnn::BatchNorm2d(outer_channels));
    }

    torch::Tensor forward(const torch::Tensor& x) {
        torch::Tensor h = kind == Kind::outermost ? x : torch::leaky_relu(x, 0.2);
        h = down(h);
        if (!down_norm.is_empty()) h = down_norm(h);
        if (inner) h = inner->forward(h);
        h = up(torch::relu(h));
        if (kind == Kind::outermost) return torch::tanh(h);
        h = up_norm(h);
        if (dropout > 0) h = torch::dropout(h, dropout, is_training());
        return torch::cat({x, h}, 1);
    }

    Kind kind;
    std::shared_ptr<UnetBlockImpl> inner;
    double dropout;
    tnn::Conv2d down{nullptr};
    tnn::ConvTranspose2d up{nullptr};
    tnn::BatchNorm2d down_norm{nullptr}, up_norm{nullptr};
};

// The 256-px U-Net with ngf 64: eight levels, dropout in the three 8ngf levels next to the
// innermost.
struct GeneratorImpl : tnn::Module {
    GeneratorImpl() {
        using Kind = UnetBlockImpl::Kind;
        const long ngf = 64;
        auto block = std::make_shared<UnetBlockImpl>(Kind::innermost, 8 * ngf, 8 * ngf, 8 * ngf,
                                                     nullptr, 0.0);
        for (int i = 0; i < 3; ++i)
            block = std::make_shared<UnetBlockImpl>(Kind::middle, 8 * ngf, 8 * ngf, 8 * ngf, block,
                                                    0.5);
        block =
            std::make_shared<UnetBlockImpl>(Kind::middle, 4 * ngf, 8 * ngf, 4 * ngf, block, 0.0);
        block =
            std::make_shared<UnetBlockImpl>(Kind::middle, 2 * ngf, 4 * ngf, 2 * ngf, block, 0.0);
        block = std::make_shared<UnetBlockImpl>(Kind::middle, ngf, 2 * ngf, ngf, block, 0.0);
        root = register_module(
            "unet", std::make_shared<UnetBlockImpl>(Kind::outermost, 3, ngf, 1, block, 0.0));
    }
    torch::Tensor forward(const torch::Tensor& gray) { return root->forward(gray); }
    std::shared_ptr<UnetBlockImpl> root;
};

// The 70x70 PatchGAN with ndf 64 and three layers, on (gray, colour).
struct DiscriminatorImpl : tnn::Module {
    DiscriminatorImpl() {
        const long ndf = 64;
        auto conv = [](long in, long out, long stride, bool bias) {
            return tnn::Conv2d(tnn::Conv2dOptions(in, out, 4).stride(stride).padding(1).bias(bias));
        };
        auto leaky = tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(0.2));
        net = register_module("net", tnn::Sequential());
        net->push_back(conv(4, ndf, 2, true));
        net->push_back(leaky);
        net->push_back(conv(ndf, 2 * ndf, 2, false));
        net->push_back(tnn::BatchNorm2d(2 * ndf));
        net->push_back(tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(0.2)));
        net->push_back(conv(2 * ndf, 4 * ndf, 2, false));
        net->push_back(tnn::BatchNorm2d(4 * ndf));
        net->push_back(tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(0.2)));
        net->push_back(conv(4 * ndf, 8 * ndf, 1, false));
        net->push_back(tnn::BatchNorm2d(8 * ndf));
        net->push_back(tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(0.2)));
        net->push_back(conv(8 * ndf, 1, 1, true));
    }
    torch::Tensor forward(const torch::Tensor& gray, const torch::Tensor& colour) {
        return net->forward(torch::cat({gray, colour}, 1));
    }
    tnn::Sequential net{nullptr};
};

// Copies recolor's initial weights, parameter by parameter (the orders match).
void load_weights(tnn::Module& module, const std::vector<std::vector<float>>& weights) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> params = module.parameters();
    TORCH_CHECK(params.size() == weights.size(), "twin has ", params.size(),
                " parameters, recolor ", weights.size());
    for (size_t i = 0; i < params.size(); ++i) {
        TORCH_CHECK(size_t(params[i].numel()) == weights[i].size(), "parameter ", i, " has ",
                    params[i].numel(), " values in the twin, ", weights[i].size(), " in recolor");
        params[i].copy_(torch::from_blob(const_cast<float*>(weights[i].data()), params[i].sizes()));
    }
}

torch::Tensor tensor_of(const std::vector<int64_t>& shape, const std::vector<float>& values,
                        const torch::Device& device) {
    return torch::from_blob(const_cast<float*>(values.data()), shape).to(device, false, true);
}

void finish(const torch::Device& device) {
    if (device.is_cuda()) torch::cuda::synchronize();
}

struct LayerTensors {
    torch::Tensor x, weight, bias;
    LayerTensors(const LayerCase& c, const torch::Device& device) {
        const long s = c.size, k = c.kernel;
        x = tensor_of({1, c.in_channels, s, s}, normal_values(c.in_channels * s * s, 1, 1.0f),
                      device);
        const std::vector<int64_t> w_shape =
            c.transposed ? std::vector<int64_t>{c.in_channels, c.out_channels, k, k}
                         : std::vector<int64_t>{c.out_channels, c.in_channels, k, k};
        weight = tensor_of(w_shape, normal_values(c.in_channels * c.out_channels * k * k, 2, 0.02f),
                           device);
        if (c.bias)
            bias = tensor_of({c.out_channels}, normal_values(c.out_channels, 3, 0.02f), device);
    }
    torch::Tensor forward(const LayerCase& c) const {
        return c.transposed ? torch::conv_transpose2d(x, weight, bias, c.stride, c.padding)
                            : torch::conv2d(x, weight, bias, c.stride, c.padding);
    }
};

void conv_forward_case(benchmark::State& state, const LayerCase& c, const torch::Device& device) {
    torch::NoGradGuard no_grad;
    const LayerTensors t(c, device);
    for (auto _ : state) {
        torch::Tensor y = t.forward(c);
        finish(device);
        benchmark::DoNotOptimize(y.data_ptr());
    }
    set_gflops(state, c.flops());
}

// Input, weight and bias gradients: what autograd's ConvolutionBackward0 calls.
void conv_backward_case(benchmark::State& state, const LayerCase& c, const torch::Device& device) {
    torch::NoGradGuard no_grad;
    const LayerTensors t(c, device);
    const torch::Tensor y = t.forward(c);
    const torch::Tensor dy = tensor_of(y.sizes().vec(), normal_values(y.numel(), 4, 1.0f), device);
    std::vector<int64_t> bias_sizes{c.out_channels};
    const std::vector<int64_t> stride{c.stride, c.stride}, padding{c.padding, c.padding};
    for (auto _ : state) {
        auto grads = at::convolution_backward(
            dy, t.x, t.weight, c.bias ? at::OptionalIntArrayRef(bias_sizes) : c10::nullopt, stride,
            padding, {1, 1}, c.transposed, {0, 0}, 1, {true, true, c.bias});
        finish(device);
        benchmark::DoNotOptimize(std::get<0>(grads).data_ptr());
    }
    set_gflops(state, 2 * c.flops());
}

struct NormTensors {
    torch::Tensor x, weight, bias, running_mean, running_var;
    NormTensors(const NormCase& c, const torch::Device& device) {
        const long ch = c.channels;
        x = tensor_of({1, ch, c.size, c.size}, normal_values(c.numel(), 5, 1.0f, 0.5f), device);
        weight = tensor_of({ch}, normal_values(ch, 6, 0.02f, 1.0f), device);
        bias = torch::zeros({ch}, device);
        running_mean = torch::zeros({ch}, device);
        running_var = torch::ones({ch}, device);
    }
};

void norm_forward_case(benchmark::State& state, const NormCase& c, const torch::Device& device) {
    torch::NoGradGuard no_grad;
    const NormTensors t(c, device);
    for (auto _ : state) {
        torch::Tensor y = torch::batch_norm(t.x, t.weight, t.bias, t.running_mean, t.running_var,
                                            true, 0.1, 1e-5, true);
        finish(device);
        benchmark::DoNotOptimize(y.data_ptr());
    }
    set_gbytes(state, norm_forward_bytes * c.numel());
}

void norm_backward_case(benchmark::State& state, const NormCase& c, const torch::Device& device) {
    torch::NoGradGuard no_grad;
    const NormTensors t(c, device);
    const auto [y, save_mean, save_invstd] = at::native_batch_norm(
        t.x, t.weight, t.bias, t.running_mean, t.running_var, true, 0.1, 1e-5);
    const torch::Tensor dy = tensor_of(y.sizes().vec(), normal_values(y.numel(), 7, 1.0f), device);
    for (auto _ : state) {
        auto grads =
            at::native_batch_norm_backward(dy, t.x, t.weight, t.running_mean, t.running_var,
                                           save_mean, save_invstd, true, 1e-5, {true, true, true});
        finish(device);
        benchmark::DoNotOptimize(std::get<0>(grads).data_ptr());
    }
    set_gbytes(state, norm_backward_bytes * c.numel());
}

torch::optim::AdamOptions pix2pix_adam() {
    return torch::optim::AdamOptions(1.5e-4).betas({0.5, 0.999}).eps(1e-8);
}

void adam_case(benchmark::State& state, const torch::Device& device) {
    auto generator = std::make_shared<GeneratorImpl>();
    load_weights(*generator, recolor_initial_weights().generator);
    generator->to(device);
    std::vector<torch::Tensor> params = generator->parameters();
    long numel = 0;
    for (size_t i = 0; i < params.size(); ++i) {
        params[i].mutable_grad() = tensor_of(
            params[i].sizes().vec(), normal_values(params[i].numel(), 1000 + i, 1e-3f), device);
        numel += params[i].numel();
    }
    torch::optim::Adam adam(params, pix2pix_adam());
    for (auto _ : state) {
        adam.step();
        finish(device);
    }
    set_gbytes(state, adam_bytes * numel);
    state.counters["parameters"] = double(numel);
}

// One untimed call first, as on recolor's side: a case slower than the minimum time is
// measured on one iteration, which would otherwise be the first step of a fresh model
// (oneDNN's primitives made, the allocator's caches filled).
template <typename F>
void warm_up(F f, const torch::Device& device) {
    f();
    finish(device);
}

// Scoring: eval mode, inference mode (no graph, no version counters).
void generator_forward_case(benchmark::State& state, long batch, const torch::Device& device) {
    auto generator = std::make_shared<GeneratorImpl>();
    load_weights(*generator, recolor_initial_weights().generator);
    generator->to(device);
    generator->eval();
    c10::InferenceMode inference;
    const long plane = image_size * image_size;
    const torch::Tensor gray =
        tensor_of({batch, 1, image_size, image_size}, image_values(batch * plane, 8), device);
    warm_up([&] { generator->forward(gray); }, device);
    for (auto _ : state) {
        torch::Tensor colour = generator->forward(gray);
        finish(device);
        benchmark::DoNotOptimize(colour.data_ptr());
    }
    set_images(state, double(batch));
    set_gflops(state, batch * generator_flops());
    if (batch == 1) {
        const torch::Tensor ours = torch::from_blob(
            const_cast<float*>(recolor_generator_output().data()), {1, 3, image_size, image_size});
        state.counters["max|diff|"] =
            (generator->forward(gray).cpu() - ours).abs().max().item<double>();
    }
}

// pix2pix's training step (the reference's optimize_parameters), as Pix2Pix::train_step.
struct Pix2Pix {
    std::shared_ptr<GeneratorImpl> generator = std::make_shared<GeneratorImpl>();
    std::shared_ptr<DiscriminatorImpl> discriminator = std::make_shared<DiscriminatorImpl>();
    std::unique_ptr<torch::optim::Adam> generator_optimizer, discriminator_optimizer;
    torch::Tensor gray, colour;

    explicit Pix2Pix(const torch::Device& device) {
        load_weights(*generator, recolor_initial_weights().generator);
        load_weights(*discriminator, recolor_initial_weights().discriminator);
        generator->to(device);
        discriminator->to(device);
        generator_optimizer =
            std::make_unique<torch::optim::Adam>(generator->parameters(), pix2pix_adam());
        discriminator_optimizer =
            std::make_unique<torch::optim::Adam>(discriminator->parameters(), pix2pix_adam());
        const long plane = image_size * image_size;
        gray = tensor_of({1, 1, image_size, image_size}, image_values(plane, 9), device);
        colour = tensor_of({1, 3, image_size, image_size}, image_values(3 * plane, 10), device);
    }

    void step() {
        generator->train();
        discriminator->train();
        const torch::Tensor fake = generator->forward(gray);

        // Discriminator.
        for (auto& p : discriminator->parameters()) p.set_requires_grad(true);
        discriminator_optimizer->zero_grad();
        const torch::Tensor fake_logits = discriminator->forward(gray, fake.detach());
        const torch::Tensor real_logits = discriminator->forward(gray, colour);
        const torch::Tensor loss_d =
            0.5 *
            (torch::binary_cross_entropy_with_logits(fake_logits, torch::zeros_like(fake_logits)) +
             torch::binary_cross_entropy_with_logits(real_logits, torch::ones_like(real_logits)));
        loss_d.backward();
        discriminator_optimizer->step();

        // Generator.
        for (auto& p : discriminator->parameters()) p.set_requires_grad(false);
        generator_optimizer->zero_grad();
        const torch::Tensor logits = discriminator->forward(gray, fake);
        const torch::Tensor loss_g =
            torch::binary_cross_entropy_with_logits(logits, torch::ones_like(logits)) +
            10.0 * torch::l1_loss(fake, colour);
        loss_g.backward();
        generator_optimizer->step();
    }
};

void train_step_case(benchmark::State& state, const torch::Device& device) {
    Pix2Pix model(device);
    warm_up([&] { model.step(); }, device);
    for (auto _ : state) {
        model.step();
        finish(device);
    }
    set_images(state, 1);
}

bool device_missing(benchmark::State& state, const torch::Device& device) {
    if (device.is_cuda() && !torch::cuda::is_available()) {
        state.SkipWithError("this LibTorch has no CUDA device");
        return true;
    }
    return false;
}

}  // namespace

void torch_set_threads(int threads) {
    at::set_num_threads(threads);
}

// The child's side of the peak-memory case (see cases.hpp). On CUDA: the caching allocator's
// peak of allocated bytes during the step, where LibTorch has CUDA.
bool torch_peak_memory(const std::string& device_name, PeakMemory& m) {
    const torch::Device device(device_name);
    if (device.is_cuda() && !torch::cuda::is_available()) return false;
    Pix2Pix model(device);
    model.step();
    finish(device);
    m.resident_before_mib = proc_status_mib("VmRSS");
    reset_peak_resident();
#if defined(RECOLOR_BENCH_TORCH_CUDA_STATS)
    if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
    const auto start = std::chrono::steady_clock::now();
    model.step();
    finish(device);
    m.step_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.peak_mib = proc_status_mib("VmHWM");
    if (device.is_cuda()) {
#if defined(RECOLOR_BENCH_TORCH_CUDA_STATS)
        const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
        m.resident_before_mib = 0;
        m.peak_mib = double(stats.reserved_bytes[0].peak) / (1 << 20);
#else
        return false;
#endif
    }
    return true;
}

void register_torch_case(const Case& c, const std::string& side,
                         const std::string& name_of_device) {
    const std::string name = side + "/" + c.name;
    const torch::Device device(name_of_device);
    auto run = [c, device, side](benchmark::State& state) {
        if (device_missing(state, device)) return;
        switch (c.kind) {
            case Case::conv_forward:
                return conv_forward_case(state, layer_cases()[c.index], device);
            case Case::conv_backward:
                return conv_backward_case(state, layer_cases()[c.index], device);
            case Case::norm_forward:
                return norm_forward_case(state, norm_cases()[c.index], device);
            case Case::norm_backward:
                return norm_backward_case(state, norm_cases()[c.index], device);
            case Case::adam:
                return adam_case(state, device);
            case Case::generator_forward:
                return generator_forward_case(state, c.index, device);
            case Case::train_step:
                return train_step_case(state, device);
            case Case::peak_memory:
                return peak_memory_case(state, self_path(), side);
        }
    };
    auto* b = benchmark::RegisterBenchmark(name.c_str(), run)->Unit(benchmark::kMillisecond);
    if (c.kind == Case::peak_memory) {
        b->UseManualTime()->Iterations(1);
    } else {
        b->UseRealTime();
    }
    if (const double seconds = min_seconds(c)) b->MinTime(seconds);
}

}  // namespace recolor::bench
