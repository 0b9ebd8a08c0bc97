// The framework's behaviour beyond single-op values: batch norm of a constant map, a tiny
// network that learns, shape errors that say what is wrong, no_grad, and module naming.
#include <doctest/doctest.h>

#include <cmath>
#include <recolor/recolor.hpp>
#include <string>
#include <vector>

using namespace recolor;
using TensorF = Tensor<float, CPU>;

namespace {

// Deterministic values amplitude * sin(0.37 i + phase), as the PyTorch reference script uses.
TensorF sine_tensor(const Shape& shape, double phase, double amplitude = 1.0) {
    std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < v.size(); ++i) {
        v[i] = static_cast<float>(amplitude * std::sin(0.37 * static_cast<double>(i) + phase));
    }
    return TensorF::from_vector(shape, v);
}

// conv 3x3 -> batch norm -> leaky ReLU -> conv 3x3, the smallest network with every kind of
// layer the generator uses.
void build_tiny(nn::Sequential<float>& net, long hidden) {
    net.emplace<nn::Conv2d<float>>(3, hidden, 3, 1, 1, false);
    net.emplace<nn::BatchNorm2d<float>>(hidden);
    net.emplace<nn::LeakyReLU<float>>(0.2f);
    net.emplace<nn::Conv2d<float>>(hidden, 3, 3, 1, 1, true);
}

std::vector<std::string> names_of(const std::vector<std::pair<std::string, TensorF>>& named) {
    std::vector<std::string> names;
    for (auto& [name, t] : named) names.push_back(name);
    return names;
}

}  // namespace

TEST_SUITE("framework") {
    TEST_CASE("batch norm of a constant map of 1000.1 gives zeros, never NaN") {
        // A one-pass float variance, E[x^2] - E[x]^2, gives -0.875 for fifty values of 1000.1
        // (cancellation), and 1/sqrt(-0.875 + eps) is NaN; the two-pass variance gives 0.
        TensorF x = TensorF::full({2, 3, 5, 5}, 1000.1f).set_requires_grad(true);
        nn::BatchNorm2d<float> bn(3);
        TensorF y = bn(x);
        long nonzero = 0;
        for (float v : y.to_vector()) nonzero += v != 0.0f;  // NaN counts as nonzero
        CHECK(nonzero == 0);
        for (float v : bn.running_var.to_vector()) CHECK(v == doctest::Approx(0.9));  // 0.9 * 1
        for (float v : bn.running_mean.to_vector()) CHECK(v == doctest::Approx(100.01));

        // Backward through a zero-variance channel is finite too.
        mse_loss(y, sine_tensor(y.shape(), 0.5)).backward();
        for (float g : x.grad().to_vector()) CHECK(std::isfinite(g));
        for (float g : bn.weight.grad().to_vector()) CHECK(std::isfinite(g));
    }

    TEST_CASE("a tiny network fits a fixed target: loss falls 10x in 200 Adam steps") {
        // The target is what a second network of the same shape (seed 7, larger weights)
        // makes of the input, so it is reachable; the student starts from seed 1.
        TensorF input = sine_tensor({2, 3, 8, 8}, 0.3);
        nn::Sequential<float> teacher, student;
        build_tiny(teacher, 6);
        build_tiny(student, 6);
        nn::init_weights(teacher, 7, 0.3);
        nn::init_weights(student, 1);
        TensorF target;
        {
            NoGradGuard no_grad;
            target = teacher(input);
        }
        optim::Adam<float> adam(student.parameters(), optim::AdamOptions{0.01});
        float first = 0, last = 0;
        for (int step = 0; step < 200; ++step) {
            adam.zero_grad();
            TensorF loss = mse_loss(student(input), target);
            loss.backward();
            adam.step();
            if (step == 0) first = loss.item();
            last = loss.item();
            REQUIRE(std::isfinite(last));
        }
        MESSAGE("tiny network: MSE " << first << " at step 1, " << last << " at step 200");
        CHECK(last < first / 10);
    }

    TEST_CASE("shape errors name the operation and the expected and found shapes") {
        TensorF x = TensorF::zeros({2, 4, 8, 8}), w = TensorF::zeros({8, 3, 3, 3});
        CHECK_THROWS_WITH_AS(conv2d(x, w, TensorF(), 1, 1),
                             doctest::Contains("conv2d: input expected 3 channels (weight "
                                               "[8, 3, 3, 3]), found shape [2, 4, 8, 8]"),
                             Error);
        CHECK_THROWS_WITH_AS(conv2d(TensorF::zeros({4, 8, 8}), w, TensorF(), 1, 1),
                             doctest::Contains("conv2d: input expected 4 dimensions, found "
                                               "shape [4, 8, 8]"),
                             Error);
        CHECK_THROWS_WITH_AS(conv_transpose2d(x, TensorF::zeros({3, 2, 4, 4}), TensorF(), 2, 1),
                             doctest::Contains("conv_transpose2d: input expected 3 channels"),
                             Error);
        CHECK_THROWS_WITH_AS(add(TensorF::zeros({2, 3}), TensorF::zeros({3, 2})),
                             doctest::Contains("add: second operand expected shape [2, 3], "
                                               "found [3, 2]"),
                             Error);
        CHECK_THROWS_WITH_AS(l1_loss(x, TensorF::zeros({2, 4, 8, 7})),
                             doctest::Contains("l1_loss: target expected shape [2, 4, 8, 8], "
                                               "found [2, 4, 8, 7]"),
                             Error);
        TensorF stats = TensorF::zeros({4});
        CHECK_THROWS_WITH_AS(
            batch_norm2d(x, TensorF::ones({3}), TensorF(), stats, stats, true),
            doctest::Contains("batch_norm2d: weight expected shape [4], found [3]"), Error);
        // A layer reports the op's message, so a wrong network wiring is found the same way.
        nn::Conv2d<float> conv(3, 8, 3, 1, 1);
        CHECK_THROWS_WITH_AS(conv(x), doctest::Contains("found shape [2, 4, 8, 8]"), Error);
    }

    TEST_CASE("no_grad records nothing and restores the previous mode") {
        TensorF w = sine_tensor({4, 3, 3, 3}, 0.1).set_requires_grad(true);
        TensorF x = sine_tensor({1, 3, 5, 5}, 0.2);
        {
            NoGradGuard no_grad;
            CHECK_FALSE(grad_enabled());
            TensorF y = relu(conv2d(x, w, TensorF(), 1, 1));
            CHECK_FALSE(y.requires_grad());
            CHECK(y.is_leaf());
            {
                NoGradGuard nested;
                CHECK_FALSE(grad_enabled());
            }
            CHECK_FALSE(grad_enabled());  // the inner guard restores "off", not "on"
            CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("does not require grad"),
                                 Error);
        }
        CHECK(grad_enabled());
        TensorF y = relu(conv2d(x, w, TensorF(), 1, 1));
        CHECK(y.requires_grad());
        CHECK_FALSE(y.is_leaf());
        sum(y).backward();
        CHECK(w.grad().defined());
    }

    TEST_CASE("modules: parameter and buffer names, train and eval") {
        nn::Sequential<float> net;
        build_tiny(net, 5);
        // Children are named by position; batch-norm running statistics are buffers.
        CHECK(names_of(net.named_parameters()) ==
              std::vector<std::string>{"0.weight", "1.weight", "1.bias", "3.weight", "3.bias"});
        CHECK(names_of(net.named_buffers()) ==
              std::vector<std::string>{"1.running_mean", "1.running_var"});
        CHECK(net.parameter_count() == 5 * 3 * 9 + 5 + 5 + 3 * 5 * 9 + 3);
        for (auto& [name, t] : net.named_parameters()) CHECK_MESSAGE(t.requires_grad(), name);
        for (auto& [name, t] : net.named_buffers()) CHECK_MESSAGE(!t.requires_grad(), name);

        // The buffers are the module's own statistics: training moves them, eval does not.
        nn::init_weights(net, 3);
        TensorF x = sine_tensor({2, 3, 6, 6}, 0.4, 2.0);
        TensorF running_mean = net.named_buffers()[0].second;
        const std::vector<float> before = running_mean.to_vector();
        net(x);
        const std::vector<float> trained = running_mean.to_vector();
        CHECK(trained != before);
        net.eval();
        CHECK_FALSE(net.is_training());
        net(x);
        CHECK(running_mean.to_vector() == trained);
        net.train();
        CHECK(net.is_training());

        // parameters() are handles on the module's tensors: an optimiser step is seen by both.
        TensorF weight = net.named_parameters()[0].second;
        const std::vector<float> old_weight = weight.to_vector();
        optim::Adam<float> adam(net.parameters(), optim::AdamOptions{0.1});
        mean(net(x)).backward();
        adam.step();
        CHECK(weight.to_vector() != old_weight);
        CHECK(net.parameters()[0].to_vector() == weight.to_vector());
    }
}
