// Parity of the CUDA backend with the CPU backend, in the style of dlib's CPU/GPU layer tests:
// every operation runs forward and backward on both devices with the same random inputs, and
// the CPU result is the reference. Float with TF32 off, so the two differ only by the order of
// additions: element i passes when |cuda - cpu| <= 1e-4 (|cpu| + 0.01 max|cpu|), the floor
// keeping elements that cancel to nearly zero from failing on rounding alone. The dropout mask
// and concatenation must match exactly. Skipped, by tests/gpu/main.cu, where no device exists.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <recolor/recolor.hpp>
#include <string>
#include <vector>

using namespace recolor;
using TensorC = Tensor<float, CPU>;
using TensorG = Tensor<float, CUDA>;

namespace {

std::vector<float> random_values(long n, uint64_t seed, float lo, float hi) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = u(rng);
    return v;
}

// One input, the same values on both devices; undefined for an absent optional tensor.
struct Input {
    TensorC cpu;
    TensorG gpu;
    bool grad = true;
};

Input random_input(const Shape& shape, uint64_t seed, float lo = -1, float hi = 1,
                   bool grad = true) {
    std::vector<float> v = random_values(shape_numel(shape), seed, lo, hi);
    return {TensorC::from_vector(shape, v), TensorG::from_vector(shape, v), grad};
}
Input absent() {
    return {TensorC(), TensorG(), false};
}

void check_close(const std::string& what, const std::vector<float>& cpu,
                 const std::vector<float>& gpu, double tolerance = 1e-4) {
    REQUIRE_MESSAGE(cpu.size() == gpu.size(),
                    what << ": sizes " << cpu.size() << " and " << gpu.size());
    double largest = 0;
    for (float c : cpu) largest = std::max(largest, std::abs(static_cast<double>(c)));
    const double floor = 1e-2 * largest;
    long bad = 0;
    double worst = 0;
    for (size_t i = 0; i < cpu.size(); ++i) {
        const double c = cpu[i], g = gpu[i];
        const double scale = std::abs(c) + floor;
        const double error = scale > 0 ? std::abs(g - c) / scale : std::abs(g - c);
        worst = std::max(worst, std::isnan(error) ? INFINITY : error);
        if (!(error <= tolerance) && ++bad <= 5) {
            MESSAGE(what << "[" << i << "]: cpu " << c << ", cuda " << g);
        }
    }
    CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << cpu.size()
                                 << " elements differ, worst relative error " << worst);
}

void check_close(const std::string& what, const TensorC& cpu, const TensorG& gpu,
                 double tolerance = 1e-4) {
    REQUIRE_MESSAGE(cpu.shape() == gpu.shape(), what << ": shapes " << shape_string(cpu.shape())
                                                     << " and " << shape_string(gpu.shape()));
    check_close(what, cpu.to_vector(), gpu.to_vector(), tolerance);
}

// Runs f on both devices, compares the outputs, back-propagates the same random output
// gradient and compares the gradient of every input that wants one.
template <typename F>
void check_op(const std::string& name, F f, std::vector<Input>& inputs, uint64_t seed = 1000) {
    std::vector<TensorC> on_cpu;
    std::vector<TensorG> on_gpu;
    for (Input& in : inputs) {
        if (in.grad) {
            in.cpu.set_requires_grad(true);
            in.gpu.set_requires_grad(true);
        }
        on_cpu.push_back(in.cpu);
        on_gpu.push_back(in.gpu);
    }
    TensorC y_cpu = f(on_cpu);
    TensorG y_gpu = f(on_gpu);
    check_close(name + " forward", y_cpu, y_gpu);

    Input seed_grad = random_input(y_cpu.shape(), seed);
    autograd::run_backward(y_cpu, seed_grad.cpu);
    autograd::run_backward(y_gpu, seed_grad.gpu);
    for (size_t k = 0; k < inputs.size(); ++k) {
        if (!inputs[k].grad) continue;
        const std::string what = name + " gradient of input " + std::to_string(k);
        REQUIRE_MESSAGE(inputs[k].cpu.grad().defined(), what << ": none on the CPU");
        REQUIRE_MESSAGE(inputs[k].gpu.grad().defined(), what << ": none on CUDA");
        check_close(what, inputs[k].cpu.grad(), inputs[k].gpu.grad());
    }
}

template <typename F>
void check_op(const std::string& name, F f, std::vector<Input>&& inputs, uint64_t seed = 1000) {
    check_op(name, f, inputs, seed);
}

// A pix2pix in miniature: generator conv -> batch norm -> leaky ReLU -> dropout -> transposed
// conv -> tanh, discriminator a stack of convolutions on (input, image) pairs; the losses and
// optimiser settings of the paper (BCE on logits, L1 weighted 100, Adam lr 2e-4, beta1 0.5).
template <typename D>
struct TinyPix2Pix {
    using TensorT = Tensor<float, D>;
    nn::Sequential<float, D> generator, discriminator;
    std::unique_ptr<optim::Adam<float, D>> generator_adam, discriminator_adam;

    TinyPix2Pix() {
        generator.template emplace<nn::Conv2d<float, D>>(3, 8, 4, 2, 1, false);
        generator.template emplace<nn::BatchNorm2d<float, D>>(8);
        generator.template emplace<nn::LeakyReLU<float, D>>(0.2f);
        generator.template emplace<nn::Dropout<float, D>>(0.5f, 7);
        generator.template emplace<nn::ConvTranspose2d<float, D>>(8, 3, 4, 2, 1);
        generator.template emplace<nn::Tanh<float, D>>();
        discriminator.template emplace<nn::Conv2d<float, D>>(6, 8, 4, 2, 1);
        discriminator.template emplace<nn::LeakyReLU<float, D>>(0.2f);
        discriminator.template emplace<nn::Conv2d<float, D>>(8, 16, 4, 2, 1, false);
        discriminator.template emplace<nn::BatchNorm2d<float, D>>(16);
        discriminator.template emplace<nn::LeakyReLU<float, D>>(0.2f);
        discriminator.template emplace<nn::Conv2d<float, D>>(16, 1, 4, 1, 1);
        nn::init_weights(generator, 11);
        nn::init_weights(discriminator, 12);
        optim::AdamOptions options;
        options.lr = 2e-4;
        options.beta1 = 0.5;
        generator_adam = std::make_unique<optim::Adam<float, D>>(generator.parameters(), options);
        discriminator_adam =
            std::make_unique<optim::Adam<float, D>>(discriminator.parameters(), options);
    }

    struct Losses {
        TensorT discriminator, generator;
    };

    // One training step; nothing in it waits for the device.
    Losses step(const TensorT& input, const TensorT& target) {
        TensorT fake = generator(input);

        // Discriminator: real pairs towards 1, generated pairs towards 0.
        TensorT real_logits = discriminator(concat_channels(input, target));
        TensorT fake_logits = discriminator(concat_channels(input, fake.detach()));
        TensorT d_loss = scale(
            add(bce_with_logits(real_logits, 1.0f), bce_with_logits(fake_logits, 0.0f)), 0.5f);
        discriminator_adam->zero_grad();
        d_loss.backward();
        discriminator_adam->step();

        // Generator: fool the discriminator, stay close to the target in L1.
        TensorT g_logits = discriminator(concat_channels(input, fake));
        TensorT g_loss = add(bce_with_logits(g_logits, 1.0f), l1_loss(fake, target), 1.0f, 100.0f);
        generator_adam->zero_grad();
        g_loss.backward();
        generator_adam->step();
        return {d_loss, g_loss};
    }
};

void check_modules_close(const std::string& what, const nn::Module<float, CPU>& cpu,
                         const nn::Module<float, CUDA>& gpu) {
    auto p_cpu = cpu.named_parameters();
    auto p_gpu = gpu.named_parameters();
    REQUIRE(p_cpu.size() == p_gpu.size());
    for (size_t i = 0; i < p_cpu.size(); ++i) {
        check_close(what + " " + p_cpu[i].first, p_cpu[i].second, p_gpu[i].second);
    }
    auto b_cpu = cpu.named_buffers();
    auto b_gpu = gpu.named_buffers();
    REQUIRE(b_cpu.size() == b_gpu.size());
    for (size_t i = 0; i < b_cpu.size(); ++i) {
        check_close(what + " " + b_cpu[i].first, b_cpu[i].second, b_gpu[i].second);
    }
}

}  // namespace

TEST_SUITE("gpu") {
    TEST_CASE("conv2d with bias at stride 2 and padding 1") {
        cuda::set_tf32(false);
        check_op(
            "conv2d", [](auto& in) { return conv2d(in[0], in[1], in[2], 2, 1); },
            {random_input({2, 3, 9, 8}, 1), random_input({4, 3, 4, 4}, 2), random_input({4}, 3)});
    }

    TEST_CASE("conv2d without bias at stride 1") {
        check_op("conv2d", [](auto& in) { return conv2d(in[0], in[1], in[2], 1, 0); },
                 {random_input({2, 5, 7, 7}, 4), random_input({6, 5, 3, 3}, 5), absent()});
    }

    TEST_CASE("conv2d at a pix2pix layer width") {
        // 64 -> 128 channels, 4x4 kernel, stride 2: the shape of pix2pix's second encoder layer.
        check_op("conv2d", [](auto& in) { return conv2d(in[0], in[1], in[2], 2, 1); },
                 {random_input({2, 64, 32, 32}, 6), random_input({128, 64, 4, 4}, 7, -0.1f, 0.1f),
                  random_input({128}, 8)});
    }

    TEST_CASE("conv2d with TF32 on stays within TF32 precision") {
        // TF32 keeps 10 mantissa bits: each product is off by about 4e-4 of itself, so the
        // error of a 1024-term sum is about 4e-4 of the output's norm; 2e-3 leaves room, and
        // a wrong result is off by order 1. Element-wise bounds would not hold near zero.
        struct Tf32On {
            Tf32On() { cuda::set_tf32(true); }
            ~Tf32On() { cuda::set_tf32(false); }
        } tf32_on;
        Input x = random_input({2, 64, 32, 32}, 14), w = random_input({128, 64, 4, 4}, 15);
        std::vector<float> y_cpu = conv2d(x.cpu, w.cpu, TensorC(), 2, 1).to_vector();
        std::vector<float> y_gpu = conv2d(x.gpu, w.gpu, TensorG(), 2, 1).to_vector();
        REQUIRE(y_cpu.size() == y_gpu.size());
        double difference = 0, norm = 0;
        for (size_t i = 0; i < y_cpu.size(); ++i) {
            difference += (double(y_gpu[i]) - y_cpu[i]) * (double(y_gpu[i]) - y_cpu[i]);
            norm += double(y_cpu[i]) * y_cpu[i];
        }
        const double relative = std::sqrt(difference / norm);
        CHECK_MESSAGE(relative < 2e-3, "relative norm error " << relative);
    }

    TEST_CASE("conv_transpose2d at stride 2 and padding 1") {
        check_op(
            "conv_transpose2d",
            [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1); },
            {random_input({2, 4, 5, 6}, 9), random_input({4, 3, 4, 4}, 10), random_input({3}, 11)});
        check_op("conv_transpose2d wide",
                 [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1); },
                 {random_input({2, 128, 8, 8}, 12), random_input({128, 64, 4, 4}, 13, -0.1f, 0.1f),
                  absent()});
    }

    TEST_CASE("batch_norm2d in training updates the running statistics as the CPU does") {
        // Inputs offset from zero, so that the mean matters; shapes cover one block per
        // channel, planes smaller than a block, and channels split over several blocks.
        const std::vector<Shape> shapes{{4, 3, 5, 5}, {16, 4, 3, 3}, {2, 8, 64, 64}};
        for (const Shape& shape : shapes) {
            const long c = shape[1];
            std::vector<Input> inputs{random_input(shape, 20, 2, 4),
                                      random_input({c}, 21, 0.5f, 1.5f), random_input({c}, 22),
                                      random_input({c}, 23, -0.5f, 0.5f, false),
                                      random_input({c}, 24, 0.5f, 2.0f, false)};
            const std::string name = "batch_norm2d train " + shape_string(shape);
            check_op(
                name,
                [](auto& in) {
                    return batch_norm2d(in[0], in[1], in[2], in[3], in[4], true, 0.1, 1e-5);
                },
                inputs);
            check_close(name + " running_mean", inputs[3].cpu, inputs[3].gpu);
            check_close(name + " running_var", inputs[4].cpu, inputs[4].gpu);
        }
    }

    TEST_CASE("batch_norm2d in training with no weight and no running statistics") {
        check_op("batch_norm2d bare",
                 [](auto& in) {
                     using T = std::decay_t<decltype(in[0])>;
                     return batch_norm2d(in[0], T(), T(), T(), T(), true);
                 },
                 {random_input({3, 5, 4, 4}, 25, -2, 3)});
    }

    TEST_CASE("batch_norm2d in eval mode") {
        check_op("batch_norm2d eval",
                 [](auto& in) {
                     return batch_norm2d(in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-5);
                 },
                 {random_input({3, 4, 6, 5}, 26, -1, 3), random_input({4}, 27, 0.5f, 1.5f),
                  random_input({4}, 28), random_input({4}, 29, -0.5f, 0.5f, false),
                  random_input({4}, 30, 0.5f, 2.0f, false)});
    }

    TEST_CASE("activations") {
        auto x = [] { return std::vector<Input>{random_input({3, 4, 5, 6}, 31, -3, 3)}; };
        check_op(
            "relu", [](auto& in) { return relu(in[0]); }, x());
        check_op(
            "leaky_relu", [](auto& in) { return leaky_relu(in[0], 0.2f); }, x());
        check_op(
            "tanh", [](auto& in) { return tanh(in[0]); }, x());
        check_op(
            "sigmoid", [](auto& in) { return sigmoid(in[0]); }, x());
    }

    TEST_CASE("dropout draws the CPU's mask") {
        // 3003 elements: not a multiple of the four Philox words a thread writes.
        for (uint64_t offset : {0u, 1u, 5u}) {
            Input x = random_input({3, 7, 11, 13}, 32);
            x.cpu.set_requires_grad(true);
            x.gpu.set_requires_grad(true);
            TensorC y_cpu = dropout(x.cpu, 0.3f, true, 99, offset);
            TensorG y_gpu = dropout(x.gpu, 0.3f, true, 99, offset);
            CHECK(y_cpu.to_vector() == y_gpu.to_vector());
            Input g = random_input(y_cpu.shape(), 33);
            autograd::run_backward(y_cpu, g.cpu);
            autograd::run_backward(y_gpu, g.gpu);
            CHECK(x.cpu.grad().to_vector() == x.gpu.grad().to_vector());
        }
    }

    TEST_CASE("concat_channels") {
        std::vector<Input> inputs{random_input({2, 3, 5, 4}, 34), random_input({2, 6, 5, 4}, 35)};
        for (Input& in : inputs) {
            in.cpu.set_requires_grad(true);
            in.gpu.set_requires_grad(true);
        }
        TensorC y_cpu = concat_channels(inputs[0].cpu, inputs[1].cpu);
        TensorG y_gpu = concat_channels(inputs[0].gpu, inputs[1].gpu);
        CHECK(y_cpu.to_vector() == y_gpu.to_vector());
        Input g = random_input(y_cpu.shape(), 36);
        autograd::run_backward(y_cpu, g.cpu);
        autograd::run_backward(y_gpu, g.gpu);
        for (Input& in : inputs) CHECK(in.cpu.grad().to_vector() == in.gpu.grad().to_vector());
    }

    TEST_CASE("losses and the arithmetic they are built from") {
        auto pair = [] {
            return std::vector<Input>{random_input({2, 3, 8, 8}, 37, -3, 3),
                                      random_input({2, 3, 8, 8}, 38, 0, 1, false)};
        };
        check_op(
            "l1_loss", [](auto& in) { return l1_loss(in[0], in[1]); }, pair());
        check_op(
            "mse_loss", [](auto& in) { return mse_loss(in[0], in[1]); }, pair());
        check_op(
            "bce_with_logits", [](auto& in) { return bce_with_logits(in[0], in[1]); }, pair());
        check_op(
            "bce_with_logits label 1", [](auto& in) { return bce_with_logits(in[0], 1.0f); },
            pair());
        check_op(
            "sum", [](auto& in) { return sum(in[0]); }, pair());
        check_op(
            "mean", [](auto& in) { return mean(in[0]); }, pair());
        check_op(
            "add", [](auto& in) { return add(in[0], in[1], 0.5f, -2.0f); }, pair());
        check_op(
            "scale", [](auto& in) { return scale(in[0], 3.0f); }, pair());
    }

    TEST_CASE("sum over many blocks") {
        // 3,000,001 elements: many partial sums, and a length no block size divides.
        check_op("mean large", [](auto& in) { return mean(in[0]); },
                 {random_input({3000001}, 39, 0, 1)});
    }

    TEST_CASE("Adam over several tensors matches the CPU for three steps") {
        const std::vector<Shape> shapes{{3}, {17, 5}, {2000}, {4, 3, 33, 33}};
        std::vector<Input> params, targets;
        for (size_t i = 0; i < shapes.size(); ++i) {
            params.push_back(random_input(shapes[i], 40 + i));
            targets.push_back(random_input(shapes[i], 50 + i, -1, 1, false));
            params.back().cpu.set_requires_grad(true);
            params.back().gpu.set_requires_grad(true);
        }
        optim::AdamOptions options;
        options.lr = 1e-2;
        options.weight_decay = 0.01;
        std::vector<TensorC> p_cpu;
        std::vector<TensorG> p_gpu;
        for (Input& p : params) {
            p_cpu.push_back(p.cpu);
            p_gpu.push_back(p.gpu);
        }
        optim::Adam<float, CPU> adam_cpu(p_cpu, options);
        optim::Adam<float, CUDA> adam_gpu(p_gpu, options);
        for (int step = 0; step < 3; ++step) {
            auto loss = [&](auto& ps, auto pick) {
                auto total = mse_loss(ps[0], pick(targets[0]));
                for (size_t i = 1; i < ps.size(); ++i) {
                    total = add(total, mse_loss(ps[i], pick(targets[i])));
                }
                return total;
            };
            adam_cpu.zero_grad();
            adam_gpu.zero_grad();
            loss(p_cpu, [](Input& t) { return t.cpu; }).backward();
            loss(p_gpu, [](Input& t) { return t.gpu; }).backward();
            adam_cpu.step();
            adam_gpu.step();
        }
        for (size_t i = 0; i < params.size(); ++i) {
            const std::string what = "Adam parameter " + shape_string(shapes[i]);
            check_close(what, p_cpu[i], p_gpu[i]);
            check_close(what + " exp_avg", adam_cpu.exp_avg()[i], adam_gpu.exp_avg()[i]);
            check_close(what + " exp_avg_sq", adam_cpu.exp_avg_sq()[i], adam_gpu.exp_avg_sq()[i]);
        }
    }

    TEST_CASE("Adam over more parameters than one launch carries") {
        // 600 parameters of 1 to 1500 elements: two launches of the multi-tensor kernel.
        const int count = 600;
        std::vector<Input> param, grad, m, v;
        std::vector<Backend<CPU>::AdamSlot<float>> cpu_slots;
        std::vector<Backend<CUDA>::AdamSlot<float>> gpu_slots;
        for (int i = 0; i < count; ++i) {
            const long n = 1 + (i * 37) % 1500;
            param.push_back(random_input({n}, 1000 + i));
            grad.push_back(random_input({n}, 3000 + i));
            m.push_back(random_input({n}, 5000 + i, -0.1f, 0.1f));
            v.push_back(random_input({n}, 7000 + i, 0.0f, 0.1f));
            cpu_slots.push_back(
                {param[i].cpu.data(), grad[i].cpu.data(), m[i].cpu.data(), v[i].cpu.data(), n});
            gpu_slots.push_back(
                {param[i].gpu.data(), grad[i].gpu.data(), m[i].gpu.data(), v[i].gpu.data(), n});
        }
        // The second step of Adam(lr 1e-3, betas 0.9 and 0.999), as optim::Adam sets it up.
        math::AdamStep step{};
        step.beta1 = 0.9f;
        step.beta2 = 0.999f;
        step.one_minus_beta1 = static_cast<float>(1.0 - 0.9);
        step.one_minus_beta2 = static_cast<float>(1.0 - 0.999);
        step.eps = 1e-8f;
        step.weight_decay = 0.0f;
        step.step_size = 1e-3 / (1.0 - 0.9 * 0.9);
        step.bias_correction2_sqrt = std::sqrt(1.0 - 0.999 * 0.999);
        Backend<CPU>::adam_step(cpu_slots, step);
        Backend<CUDA>::adam_step(gpu_slots, step);
        for (int i = 0; i < count; i += 37) {
            check_close("parameter " + std::to_string(i), param[i].cpu, param[i].gpu);
            check_close("exp_avg_sq " + std::to_string(i), v[i].cpu, v[i].gpu);
        }
        check_close("last parameter", param.back().cpu, param.back().gpu);
    }

    TEST_CASE("a pix2pix-like training step matches the CPU") {
        TinyPix2Pix<CPU> cpu;
        TinyPix2Pix<CUDA> gpu;
        check_modules_close("initial generator", cpu.generator, gpu.generator);
        check_modules_close("initial discriminator", cpu.discriminator, gpu.discriminator);
        Input input = random_input({2, 3, 16, 16}, 60, -1, 1, false);
        Input target = random_input({2, 3, 16, 16}, 61, -1, 1, false);
        for (int step = 0; step < 2; ++step) {
            const std::string when = " after step " + std::to_string(step + 1);
            auto losses_cpu = cpu.step(input.cpu, target.cpu);
            auto losses_gpu = gpu.step(input.gpu, target.gpu);
            check_close("discriminator loss" + when, losses_cpu.discriminator,
                        losses_gpu.discriminator);
            check_close("generator loss" + when, losses_cpu.generator, losses_gpu.generator);
            check_modules_close("generator" + when, cpu.generator, gpu.generator);
            check_modules_close("discriminator" + when, cpu.discriminator, gpu.discriminator);
        }
    }

    TEST_CASE("after warm-up a training step takes no memory from the driver") {
        TinyPix2Pix<CUDA> gpu;
        Input input = random_input({2, 3, 16, 16}, 62, -1, 1, false);
        Input target = random_input({2, 3, 16, 16}, 63, -1, 1, false);
        for (int step = 0; step < 2; ++step) gpu.step(input.gpu, target.gpu);
        cuda::synchronize();
        const cuda::MemoryStats before = cuda::memory_stats();
        for (int step = 0; step < 3; ++step) gpu.step(input.gpu, target.gpu);
        cuda::synchronize();
        const cuda::MemoryStats after = cuda::memory_stats();
        CHECK(after.device_allocations == before.device_allocations);
        CHECK(after.reserved_bytes == before.reserved_bytes);
    }

    TEST_CASE("after warm-up a training step can be captured into a CUDA graph") {
        // Capture fails (cudaErrorStreamCaptureUnsupported or ...Invalidated) if the step
        // synchronises with the host, allocates from the driver or uses another stream. The
        // graph is not launched: the pool would need a private pool for that (see
        // docs/gpu-status.md).
        TinyPix2Pix<CUDA> gpu;
        Input input = random_input({2, 3, 16, 16}, 64, -1, 1, false);
        Input target = random_input({2, 3, 16, 16}, 65, -1, 1, false);
        for (int step = 0; step < 2; ++step) gpu.step(input.gpu, target.gpu);
        cuda::synchronize();
        REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeGlobal) == cudaSuccess);
        std::string failure;
        try {
            gpu.step(input.gpu, target.gpu);
        } catch (const std::exception& e) {
            failure = e.what();
        }
        cudaGraph_t graph = nullptr;
        const cudaError_t ended = cudaStreamEndCapture(cuda::stream(), &graph);
        CHECK_MESSAGE(failure.empty(), "the step failed under capture: " << failure);
        CHECK_MESSAGE(ended == cudaSuccess, "capture: " << cudaGetErrorString(ended));
        size_t nodes = 0;
        if (graph) {
            CHECK(cudaGraphGetNodes(graph, nullptr, &nodes) == cudaSuccess);
            cudaGraphDestroy(graph);
        }
        CHECK(nodes > 0);
        (void)cudaGetLastError();
    }
}
