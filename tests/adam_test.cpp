// Adam against torch.optim.Adam. The parameter values and moments after each step come from
// tests/reference/make_pytorch_reference.py, run once with Debian's PyTorch 1.13.1
// (python3-torch; torch.__version__ 1.13.0a0), in float32 like the tensors here.
#include <doctest/doctest.h>

#include <recolor/recolor.hpp>

#include "reference/compare.hpp"
#include "reference/pytorch_reference.hpp"

using namespace recolor;
namespace ref = recolor::reference;
using recolor::testing::check_close;
using TensorF = Tensor<float, CPU>;

namespace {

// Three steps on loss = mse(p, t) + l1(q, u), as the script takes them; checks p and q after
// every step and the moments after the last one.
void check_three_steps(double weight_decay, const std::vector<std::vector<float>>& expected_p,
                       const std::vector<std::vector<float>>& expected_q,
                       const std::vector<std::vector<float>>& moments) {
    TensorF p = TensorF::from_vector(ref::adam_p0_shape, ref::adam_p0).set_requires_grad(true);
    TensorF q = TensorF::from_vector(ref::adam_q0_shape, ref::adam_q0).set_requires_grad(true);
    TensorF t = TensorF::from_vector(ref::adam_t_shape, ref::adam_t);
    TensorF u = TensorF::from_vector(ref::adam_u_shape, ref::adam_u);
    optim::Adam<float> adam({p, q}, optim::AdamOptions{0.01, 0.9, 0.999, 1e-8, weight_decay});
    for (int step = 0; step < 3; ++step) {
        adam.zero_grad();
        add(mse_loss(p, t), l1_loss(q, u)).backward();
        adam.step();
        INFO("step " << step + 1);
        check_close("p", p.to_vector(), expected_p[step], 1e-6);
        check_close("q", q.to_vector(), expected_q[step], 1e-6);
    }
    CHECK(adam.steps() == 3);
    check_close("exp_avg of p", adam.exp_avg()[0].to_vector(), moments[0], 1e-6);
    check_close("exp_avg_sq of p", adam.exp_avg_sq()[0].to_vector(), moments[1], 1e-6);
    check_close("exp_avg of q", adam.exp_avg()[1].to_vector(), moments[2], 1e-6);
    check_close("exp_avg_sq of q", adam.exp_avg_sq()[1].to_vector(), moments[3], 1e-6);
}

// Three steps of a constant gradient of 1e-8 on a parameter that starts at 1, lr 1e-4.
std::vector<float> tiny_gradient_steps(double eps) {
    TensorF p = TensorF::ones({1}).set_requires_grad(true);
    optim::Adam<float> adam({p}, optim::AdamOptions{1e-4, 0.9, 0.999, eps, 0.0});
    std::vector<float> values;
    for (int step = 0; step < 3; ++step) {
        adam.zero_grad();
        scale(sum(p), 1e-8f).backward();  // d/dp = 1e-8 exactly
        REQUIRE(p.grad().item() == 1e-8f);
        adam.step();
        values.push_back(p.item());
    }
    return values;
}

}  // namespace

TEST_SUITE("adam") {
    TEST_CASE("three steps match torch.optim.Adam") {
        check_three_steps(0.0, {ref::adam_p1, ref::adam_p2, ref::adam_p3},
                          {ref::adam_q1, ref::adam_q2, ref::adam_q3},
                          {ref::adam_m_p, ref::adam_v_p, ref::adam_m_q, ref::adam_v_q});
    }

    TEST_CASE("three steps with weight decay 0.1 match torch.optim.Adam") {
        check_three_steps(0.1, {ref::adam_wd_p1, ref::adam_wd_p2, ref::adam_wd_p3},
                          {ref::adam_wd_q1, ref::adam_wd_q2, ref::adam_wd_q3},
                          {ref::adam_wd_m_p, ref::adam_wd_v_p, ref::adam_wd_m_q, ref::adam_wd_v_q});
    }

    TEST_CASE("a gradient of 1e-8 is not lost") {
        // With eps 1e-12 Adam's step is lr * m_hat / (sqrt(v_hat) + eps) = lr * g / (|g| + eps),
        // i.e. lr sign(g), so p goes 1 -> 0.9999 -> 0.9998 -> 0.9997 (PyTorch agrees: the
        // script's tiny_eps_1e12). That holds only if g^2 = 1e-16 survives in float's v; a
        // flushed or underflowed v would give a step of lr g / eps = 1e-4 * 1e4 instead.
        std::vector<float> small_eps = tiny_gradient_steps(1e-12);
        CHECK(small_eps[0] == doctest::Approx(0.9999).epsilon(1e-7));
        CHECK(small_eps[1] == doctest::Approx(0.9998).epsilon(1e-7));
        CHECK(small_eps[2] == doctest::Approx(0.9997).epsilon(1e-7));
        check_close("eps 1e-12", small_eps, ref::tiny_eps_1e12, 1e-7);

        // With PyTorch's default eps 1e-8 the denominator is 1e-8 + 1e-8, so each step is lr / 2:
        // 0.99995, 0.9999, 0.99985, as torch.optim.Adam gives (tiny_default_eps).
        std::vector<float> default_eps = tiny_gradient_steps(1e-8);
        CHECK(default_eps[0] == doctest::Approx(0.99995).epsilon(1e-7));
        CHECK(default_eps[1] == doctest::Approx(0.9999).epsilon(1e-7));
        CHECK(default_eps[2] == doctest::Approx(0.99985).epsilon(1e-7));
        check_close("default eps", default_eps, ref::tiny_default_eps, 1e-7);
    }

    TEST_CASE("parameters without a gradient are left alone") {
        TensorF p = TensorF::ones({2}).set_requires_grad(true);
        TensorF idle = TensorF::full({2}, 3.0f).set_requires_grad(true);
        optim::Adam<float> adam({p, idle}, optim::AdamOptions{0.1});
        sum(p).backward();
        adam.step();
        CHECK(idle.to_vector() == std::vector<float>{3.0f, 3.0f});
        // First step of Adam moves every element by lr (m_hat / sqrt(v_hat) = sign(g)).
        for (float v : p.to_vector()) CHECK(v == doctest::Approx(0.9).epsilon(1e-6));
    }
}
