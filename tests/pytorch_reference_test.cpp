// Forward values and gradients against PyTorch. The reference numbers in
// reference/pytorch_reference.hpp were produced once by
//     /usr/bin/python3 tests/reference/make_pytorch_reference.py
// with Debian's PyTorch (python3-torch 1.13.1, torch.__version__ 1.13.0a0): float32 inputs
// from a sine formula, each operation evaluated by torch.nn.functional in float64. The float
// results here must agree to 1e-5 relative (see reference/compare.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <recolor/recolor.hpp>

#include "reference/compare.hpp"
#include "reference/pytorch_reference.hpp"

using namespace recolor;
namespace ref = recolor::reference;
using recolor::testing::check_close;
using TensorF = Tensor<float, CPU>;

namespace {

TensorF make(const std::vector<float>& values, const std::vector<long>& shape) {
    return TensorF::from_vector(shape, values);
}

TensorF leaf(const std::vector<float>& values, const std::vector<long>& shape) {
    return make(values, shape).set_requires_grad(true);
}

}  // namespace

TEST_SUITE("pytorch") {
    TEST_CASE("conv2d with bias, stride 2, padding 1") {
        TensorF x = make(ref::conv2d_x, ref::conv2d_x_shape);
        TensorF w = make(ref::conv2d_w, ref::conv2d_w_shape);
        TensorF b = make(ref::conv2d_b, ref::conv2d_b_shape);
        TensorF y = conv2d(x, w, b, 2, 1);
        CHECK(y.shape() == Shape(ref::conv2d_y_shape));
        check_close("conv2d", y.to_vector(), ref::conv2d_y);
    }

    TEST_CASE("conv_transpose2d with bias, stride 2, padding 1") {
        TensorF x = make(ref::convt_x, ref::convt_x_shape);
        TensorF w = make(ref::convt_w, ref::convt_w_shape);
        TensorF b = make(ref::convt_b, ref::convt_b_shape);
        TensorF y = conv_transpose2d(x, w, b, 2, 1);
        CHECK(y.shape() == Shape(ref::convt_y_shape));
        check_close("conv_transpose2d", y.to_vector(), ref::convt_y);
    }

    TEST_CASE("batch_norm2d in training moves the running statistics") {
        TensorF x = make(ref::bn_x, ref::bn_x_shape);
        TensorF w = make(ref::bn_w, ref::bn_w_shape), b = make(ref::bn_b, ref::bn_b_shape);
        TensorF running_mean = make(ref::bn_rm, ref::bn_rm_shape);
        TensorF running_var = make(ref::bn_rv, ref::bn_rv_shape);
        TensorF y = batch_norm2d(x, w, b, running_mean, running_var, true, 0.1, 1e-5);
        check_close("batch_norm2d train output", y.to_vector(), ref::bn_train_y);
        // Momentum 0.1 towards the batch mean and the unbiased batch variance.
        check_close("running_mean", running_mean.to_vector(), ref::bn_train_rm);
        check_close("running_var", running_var.to_vector(), ref::bn_train_rv);
    }

    TEST_CASE("batch_norm2d in eval uses the running statistics") {
        TensorF x = make(ref::bn_x, ref::bn_x_shape);
        TensorF w = make(ref::bn_w, ref::bn_w_shape), b = make(ref::bn_b, ref::bn_b_shape);
        TensorF running_mean = make(ref::bn_rm, ref::bn_rm_shape);
        TensorF running_var = make(ref::bn_rv, ref::bn_rv_shape);
        TensorF y = batch_norm2d(x, w, b, running_mean, running_var, false, 0.1, 1e-5);
        check_close("batch_norm2d eval output", y.to_vector(), ref::bn_eval_y);
        // Eval leaves the statistics alone.
        CHECK(running_mean.to_vector() == ref::bn_rm);
        CHECK(running_var.to_vector() == ref::bn_rv);
    }

    TEST_CASE("activations: relu, leaky_relu 0.2, tanh, sigmoid") {
        TensorF x = make(ref::act_x, ref::act_x_shape);
        check_close("relu", relu(x).to_vector(), ref::act_relu);
        check_close("leaky_relu", leaky_relu(x, 0.2f).to_vector(), ref::act_leaky);
        check_close("tanh", recolor::tanh(x).to_vector(), ref::act_tanh);
        check_close("sigmoid", sigmoid(x).to_vector(), ref::act_sigmoid);
    }

    TEST_CASE("losses: l1, mse, bce_with_logits") {
        TensorF x = make(ref::loss_x, ref::loss_x_shape), t = make(ref::loss_t, ref::loss_t_shape);
        TensorF z = make(ref::loss_z, ref::loss_z_shape);
        check_close("l1_loss", l1_loss(x, t).to_vector(), ref::loss_l1);
        check_close("mse_loss", mse_loss(x, t).to_vector(), ref::loss_mse);
        check_close("bce_with_logits", bce_with_logits(x, z).to_vector(), ref::loss_bce);
        // The constant-label form the GAN losses use.
        check_close("bce_with_logits label 1", bce_with_logits(x, 1.0f).to_vector(),
                    ref::bce_ones_loss);
    }

    TEST_CASE("bce_with_logits stays finite for logits of +-100 and beyond") {
        // exp(100) overflows float; exp(-1000) underflows. The loss and its gradient must not.
        TensorF x = leaf(ref::bce_big_x, ref::bce_big_x_shape);
        TensorF z = make(ref::bce_big_z, ref::bce_big_z_shape);
        TensorF loss = bce_with_logits(x, z);
        REQUIRE(std::isfinite(loss.item()));
        check_close("bce_with_logits, large logits", loss.to_vector(), ref::bce_big_loss);
        loss.backward();
        for (float g : x.grad().to_vector()) CHECK(std::isfinite(g));
        check_close("bce_with_logits gradient, large logits", x.grad().to_vector(),
                    ref::bce_big_grad);
    }

    TEST_CASE("gradients of conv -> batch norm -> leaky relu -> conv transpose -> tanh -> L1") {
        TensorF x = leaf(ref::chain_x, ref::chain_x_shape);
        TensorF w1 = leaf(ref::chain_w1, ref::chain_w1_shape);
        TensorF gamma = leaf(ref::chain_g, ref::chain_g_shape);
        TensorF beta = leaf(ref::chain_beta, ref::chain_beta_shape);
        TensorF w2 = leaf(ref::chain_w2, ref::chain_w2_shape);
        TensorF b2 = leaf(ref::chain_b2, ref::chain_b2_shape);
        TensorF target = make(ref::chain_target, ref::chain_target_shape);

        // Forward, as the script builds it: training-mode batch norm without running stats.
        TensorF h = conv2d(x, w1, TensorF(), 2, 1);
        h = batch_norm2d(h, gamma, beta, TensorF(), TensorF(), true, 0.1, 1e-5);
        h = leaky_relu(h, 0.2f);
        h = recolor::tanh(conv_transpose2d(h, w2, b2, 2, 1));
        TensorF loss = l1_loss(h, target);
        check_close("chain loss", loss.to_vector(), ref::chain_loss);

        loss.backward();
        check_close("d loss / d x", x.grad().to_vector(), ref::chain_grad_x);
        check_close("d loss / d conv weight", w1.grad().to_vector(), ref::chain_grad_w1);
        check_close("d loss / d batch-norm weight", gamma.grad().to_vector(), ref::chain_grad_g);
        check_close("d loss / d batch-norm bias", beta.grad().to_vector(), ref::chain_grad_beta);
        check_close("d loss / d transposed-conv weight", w2.grad().to_vector(), ref::chain_grad_w2);
        check_close("d loss / d transposed-conv bias", b2.grad().to_vector(), ref::chain_grad_b2);
    }
}
