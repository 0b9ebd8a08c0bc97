// Gradient checks in double (central differences) for every op and layer.
#include "gradcheck.hpp"

#include <tuple>
#include <vector>

using namespace recolor;
using recolor::testing::gradcheck;
using recolor::testing::random_tensor;
using recolor::testing::TensorD;

TEST_SUITE("autograd") {
    TEST_CASE("activations") {
        auto x = random_tensor({2, 3, 4, 5}, 1);
        gradcheck([](auto& in) { return relu(in[0]); }, {x});
        gradcheck([](auto& in) { return leaky_relu(in[0], 0.2f); }, {x});
        gradcheck([](auto& in) { return tanh(in[0]); }, {x});
        gradcheck([](auto& in) { return sigmoid(in[0]); }, {x});
    }

    TEST_CASE("conv2d with bias, stride 2, padding 1") {
        auto x = random_tensor({2, 3, 7, 6}, 2), w = random_tensor({4, 3, 4, 4}, 3);
        auto b = random_tensor({4}, 4);
        gradcheck([](auto& in) { return conv2d(in[0], in[1], in[2], 2, 1); }, {x, w, b});
    }

    TEST_CASE("conv2d without bias, stride 1") {
        auto x = random_tensor({1, 2, 5, 5}, 5), w = random_tensor({3, 2, 3, 3}, 6);
        gradcheck([](auto& in) { return conv2d(in[0], in[1], TensorD(), 1, 0); }, {x, w});
    }

    TEST_CASE("conv_transpose2d stride 2 padding 1") {
        auto x = random_tensor({2, 3, 3, 4}, 7), w = random_tensor({3, 2, 4, 4}, 8);
        auto b = random_tensor({2}, 9);
        gradcheck([](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1); }, {x, w, b});
    }

    // Where the output plane is small, the CPU backend multiplies a whole group of images at
    // once (cpu_conv.hpp). Each image's output and input gradient must be what it gets alone,
    // and the weight gradient the sum of the single-image ones.
    TEST_CASE("a batch of images convolves as each image alone") {
        const long batch = 5;
        auto x = random_tensor({batch, 3, 6, 6}, 30), w = random_tensor({4, 3, 4, 4}, 31);
        auto tw = random_tensor({3, 2, 4, 4}, 32);
        const long image = 3 * 6 * 6;
        std::vector<double> xs = x.to_vector();
        for (int transposed = 0; transposed < 2; ++transposed) {
            CAPTURE(transposed);
            auto run = [&](const TensorD& in, TensorD& weight) {
                weight.zero_grad();
                TensorD input = in.detach().set_requires_grad(true);
                TensorD y = transposed ? conv_transpose2d(input, weight, TensorD(), 2, 1)
                                       : conv2d(input, weight, TensorD(), 2, 1);
                sum(tanh(y)).backward();  // a gradient that differs from pixel to pixel
                return std::tuple{y.to_vector(), input.grad().to_vector(),
                                  weight.grad().to_vector()};
            };
            TensorD weight = (transposed ? tw : w).detach().set_requires_grad(true);
            auto [y_all, dx_all, dw_all] = run(x, weight);
            std::vector<double> dw_sum(dw_all.size(), 0.0);
            const size_t out_image = y_all.size() / batch;
            for (long n = 0; n < batch; ++n) {
                std::vector<double> one(xs.begin() + n * image, xs.begin() + (n + 1) * image);
                auto [y, dx, dw] = run(TensorD::from_vector({1, 3, 6, 6}, one), weight);
                for (size_t i = 0; i < y.size(); ++i)
                    REQUIRE(y[i] == doctest::Approx(y_all[n * out_image + i]).epsilon(1e-12));
                for (size_t i = 0; i < dx.size(); ++i)
                    REQUIRE(dx[i] == doctest::Approx(dx_all[n * image + i]).epsilon(1e-12));
                for (size_t i = 0; i < dw.size(); ++i) dw_sum[i] += dw[i];
            }
            for (size_t i = 0; i < dw_sum.size(); ++i)
                REQUIRE(dw_sum[i] == doctest::Approx(dw_all[i]).epsilon(1e-10));
        }
    }

    TEST_CASE("batch_norm2d training and eval") {
        auto x = random_tensor({3, 2, 3, 3}, 10), w = random_tensor({2}, 11, 0.5, 1.5);
        auto b = random_tensor({2}, 12);
        gradcheck(
            [](auto& in) { return batch_norm2d(in[0], in[1], in[2], TensorD(), TensorD(), true); },
            {x, w, b}, 1e-6, 1e-5);
        auto rm = random_tensor({2}, 13), rv = random_tensor({2}, 14, 0.5, 2.0);
        gradcheck([&](auto& in) { return batch_norm2d(in[0], in[1], in[2], rm, rv, false); },
                  {x, w, b});
    }

    TEST_CASE("dropout, concatenation, add, scale, mean") {
        auto x = random_tensor({2, 3, 4, 4}, 15), y = random_tensor({2, 2, 4, 4}, 16);
        gradcheck([](auto& in) { return dropout(in[0], 0.5f, true, 7, 0); }, {x});
        gradcheck([](auto& in) { return concat_channels(in[0], in[1]); }, {x, y});
        gradcheck([](auto& in) { return add(in[0], in[1], 2.0, -0.5); }, {x, x.clone()});
        gradcheck([](auto& in) { return scale(in[0], 3.0); }, {x});
        gradcheck([](auto& in) { return mean(in[0]); }, {x});
    }

    TEST_CASE("losses") {
        auto x = random_tensor({2, 3, 4, 4}, 17), t = random_tensor({2, 3, 4, 4}, 18);
        auto labels = random_tensor({2, 3, 4, 4}, 19, 0, 1);
        gradcheck([&](auto& in) { return l1_loss(in[0], t); }, {x});
        gradcheck([&](auto& in) { return mse_loss(in[0], t); }, {x});
        gradcheck([&](auto& in) { return bce_with_logits(in[0], labels); },
                  {scale(x, 5.0).detach()});
    }

    TEST_CASE("layers: a small network of modules") {
        nn::Sequential<double> net;
        net.emplace<nn::Conv2d<double>>(2, 3, 4, 2, 1, false);
        net.emplace<nn::BatchNorm2d<double>>(3);
        net.emplace<nn::LeakyReLU<double>>(0.2f);
        net.emplace<nn::ConvTranspose2d<double>>(3, 2, 4, 2, 1, true);
        net.emplace<nn::Tanh<double>>();
        nn::init_weights(net, 3, 0.3);
        auto x = random_tensor({2, 2, 6, 6}, 20);
        gradcheck([&](auto& in) { return net(in[0]); }, {x}, 1e-6, 1e-5);
        // Parameter gradients: perturb each parameter through the module itself.
        auto params = net.parameters();
        gradcheck(
            [&](auto& in) {
                {
                    NoGradGuard no_grad;
                    for (size_t i = 0; i < params.size(); ++i) params[i].copy_from(in[i].detach());
                }
                return net(x);
            },
            params, 1e-6, 1e-5);
    }

    TEST_CASE("gradients accumulate and zero_grad clears them") {
        auto x = random_tensor({4}, 21).set_requires_grad(true);
        sum(x).backward();
        sum(x).backward();
        for (double g : x.grad().to_vector()) CHECK(g == doctest::Approx(2.0));
        x.zero_grad();
        CHECK_FALSE(x.grad().defined());
        {
            NoGradGuard no_grad;
            CHECK_FALSE(sum(x).requires_grad());
        }
    }
}
