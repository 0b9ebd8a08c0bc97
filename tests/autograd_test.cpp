// Gradient checks in double (central differences) for every op and layer.
#include "gradcheck.hpp"

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
