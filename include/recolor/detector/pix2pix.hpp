// pix2pix for recolouring, read top to bottom: the configuration, the U-Net generator (gray in,
// colour out), the PatchGAN discriminator (gray and colour in, one logit per patch), and one
// training step of the conditional GAN loss with an L1 term (Isola et al., CVPR 2017).
//
// The generator learns from healthy leaves only. On a diseased leaf it paints the lesions in
// healthy colours, so the colour difference between the photo and its recolouring marks them.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "recolor/recolor.hpp"

namespace recolor::detector {

// The configuration. Defaults are the paper's: 256 px, ngf = ndf = 64, three discriminator
// layers (70x70 receptive field), lambda 10, Adam lr 1.5e-4 with betas (0.5, 0.999), batch 1.
struct Pix2PixConfig {
    long image_size = 256;
    long ngf = 64;          // generator width
    long ndf = 64;          // discriminator width
    long n_layers = 3;      // discriminator depth
    double lambda_l1 = 10;  // weight of the L1 term in the generator loss
    double lr = 1.5e-4;
    double beta1 = 0.5, beta2 = 0.999;
    float dropout = 0.5f;  // in the three 8ngf decoder blocks next to the innermost
    uint64_t seed = 0;
};

// The largest L1 weight and learning rate a run accepts (the CLI's --lambda, a checkpoint's
// settings). An L1 weight near 1e19 makes Adam's squared gradients overflow float, and a
// learning rate past 1 only diverges; these bounds are far inside both.
inline constexpr double max_lambda_l1 = 1e6;
inline constexpr double max_lr = 1;

// The U-Net's depth: one halving per level down to 1x1 (8 levels at 256 px).
inline long unet_levels(long image_size) {
    long levels = 0;
    for (long s = image_size; s > 1; s /= 2) ++levels;
    RECOLOR_CHECK(
        (1L << levels) == image_size && levels >= 5,
        "Generator: image size must be a power of two of at least 32, found " << image_size);
    return levels;
}

// One level of the U-Net: down (LeakyReLU, conv, batch norm), the inner levels, up (ReLU,
// transposed conv, batch norm, dropout), and the skip connection that concatenates this level's
// input with its output. The outermost level has no activation or norm on the way down and ends
// in tanh; the innermost has no norm on the way down (its output is 1x1) and no inner level.
template <typename D = CPU>
class UnetBlock : public nn::Module<float, D> {
  public:
    enum class Kind { outermost, middle, innermost };

    UnetBlock(Kind kind, long outer_channels, long inner_channels, long input_channels,
              std::shared_ptr<UnetBlock> inner, float dropout_p, uint64_t dropout_seed)
        : kind_(kind), inner_(inner) {
        const bool outermost = kind == Kind::outermost, innermost = kind == Kind::innermost;
        // Down. No bias: as in the reference, every down convolution but the last feeds a batch
        // norm, which would cancel it.
        down_ = this->register_module("down", std::make_shared<nn::Conv2d<float, D>>(
                                                  input_channels, inner_channels, 4, 2, 1, false));
        if (!outermost && !innermost) {
            down_norm_ = this->register_module(
                "down_norm", std::make_shared<nn::BatchNorm2d<float, D>>(inner_channels));
        }
        if (inner_) this->register_module("inner", inner_);
        // Up: the inner level's output is concatenated with its input, hence 2x channels.
        const long up_in = innermost ? inner_channels : 2 * inner_channels;
        up_ = this->register_module("up", std::make_shared<nn::ConvTranspose2d<float, D>>(
                                              up_in, outer_channels, 4, 2, 1, outermost));
        if (!outermost) {
            up_norm_ = this->register_module(
                "up_norm", std::make_shared<nn::BatchNorm2d<float, D>>(outer_channels));
        }
        if (dropout_p > 0) {
            dropout_ = this->register_module(
                "dropout", std::make_shared<nn::Dropout<float, D>>(dropout_p, dropout_seed));
        }
    }

    Tensor<float, D> forward(const Tensor<float, D>& x) override {
        // Down.
        Tensor<float, D> h = kind_ == Kind::outermost ? x : leaky_relu(x, 0.2f);
        h = down_->forward(h);
        if (down_norm_) h = down_norm_->forward(h);

        // Inner levels.
        if (inner_) h = inner_->forward(h);

        // Up.
        h = up_->forward(relu(h));
        if (kind_ == Kind::outermost) return tanh(h);
        h = up_norm_->forward(h);
        if (dropout_) h = dropout_->forward(h);

        // Skip connection.
        return concat_channels(x, h);
    }

    // The dropout layers of this level and the levels inside it (their mask counters are part
    // of a checkpoint, so that a resumed run draws the masks a straight run would).
    void collect_dropouts(std::vector<std::shared_ptr<nn::Dropout<float, D>>>& out) const {
        if (dropout_) out.push_back(dropout_);
        if (inner_) inner_->collect_dropouts(out);
    }

  private:
    Kind kind_;
    std::shared_ptr<UnetBlock> inner_;
    std::shared_ptr<nn::Conv2d<float, D>> down_;
    std::shared_ptr<nn::ConvTranspose2d<float, D>> up_;
    std::shared_ptr<nn::BatchNorm2d<float, D>> down_norm_, up_norm_;
    std::shared_ptr<nn::Dropout<float, D>> dropout_;
};

// The generator: gray (N, 1, S, S) in, colour (N, 3, S, S) in [-1, 1] out. Built from the
// innermost level outwards: 8ngf at the bottom (three of those levels with dropout), then
// 8ngf -> 4ngf -> 2ngf -> ngf -> the image.
template <typename D = CPU>
class Generator : public nn::Module<float, D> {
  public:
    using Block = UnetBlock<D>;

    Generator(long image_size, long ngf, long in_channels = 1, long out_channels = 3,
              float dropout_p = 0.5f, uint64_t seed = 0) {
        const long levels = unet_levels(image_size);
        auto block = std::make_shared<Block>(Block::Kind::innermost, 8 * ngf, 8 * ngf, 8 * ngf,
                                             nullptr, 0.0f, 0);
        for (long i = 0; i < levels - 5; ++i) {
            block = std::make_shared<Block>(Block::Kind::middle, 8 * ngf, 8 * ngf, 8 * ngf, block,
                                            dropout_p, seed * 1000 + static_cast<uint64_t>(i));
        }
        block =
            std::make_shared<Block>(Block::Kind::middle, 4 * ngf, 8 * ngf, 4 * ngf, block, 0.0f, 0);
        block =
            std::make_shared<Block>(Block::Kind::middle, 2 * ngf, 4 * ngf, 2 * ngf, block, 0.0f, 0);
        block = std::make_shared<Block>(Block::Kind::middle, ngf, 2 * ngf, ngf, block, 0.0f, 0);
        root_ = this->register_module(
            "unet", std::make_shared<Block>(Block::Kind::outermost, out_channels, ngf, in_channels,
                                            block, 0.0f, 0));
    }

    Tensor<float, D> forward(const Tensor<float, D>& gray) override { return root_->forward(gray); }

    std::vector<std::shared_ptr<nn::Dropout<float, D>>> dropouts() const {
        std::vector<std::shared_ptr<nn::Dropout<float, D>>> out;
        root_->collect_dropouts(out);
        return out;
    }

  private:
    std::shared_ptr<Block> root_;
};

// The conditional PatchGAN: (gray, colour) concatenated, n_layers stride-2 convolutions that
// double the width up to 8ndf, one stride-1 convolution, and a 1-channel map of logits, each
// judging one patch (70x70 pixels with n_layers = 3).
template <typename D = CPU>
class Discriminator : public nn::Module<float, D> {
  public:
    Discriminator(long in_channels, long ndf, long n_layers) {
        net_ = this->register_module("net", std::make_shared<nn::Sequential<float, D>>());
        net_->template emplace<nn::Conv2d<float, D>>(in_channels, ndf, 4, 2, 1, true);
        net_->template emplace<nn::LeakyReLU<float, D>>(0.2f);
        long width = 1;
        for (long n = 1; n <= n_layers; ++n) {
            const long previous = width;
            width = std::min(1L << n, 8L);
            const long stride = n < n_layers ? 2 : 1;
            net_->template emplace<nn::Conv2d<float, D>>(ndf * previous, ndf * width, 4, stride, 1,
                                                         false);
            net_->template emplace<nn::BatchNorm2d<float, D>>(ndf * width);
            net_->template emplace<nn::LeakyReLU<float, D>>(0.2f);
        }
        net_->template emplace<nn::Conv2d<float, D>>(ndf * width, 1, 4, 1, 1, true);
    }

    // Logits (N, 1, P, P) for the pair (gray, colour). The one-input forward of Module stays
    // visible (it throws: the discriminator needs both images).
    using nn::Module<float, D>::forward;
    Tensor<float, D> forward(const Tensor<float, D>& gray, const Tensor<float, D>& colour) {
        return net_->forward(concat_channels(gray, colour));
    }

  private:
    std::shared_ptr<nn::Sequential<float, D>> net_;
};

// The losses of one step, for the log.
struct StepLosses {
    double d_real = 0, d_fake = 0;  // BCE of D on real pairs and on generated pairs
    double g_gan = 0, g_l1 = 0;     // the generator's adversarial and (unweighted) L1 terms
};

// The two networks, their optimisers, and the training step.
template <typename D = CPU>
class Pix2Pix {
  public:
    explicit Pix2Pix(const Pix2PixConfig& config)
        : config(config),
          generator(config.image_size, config.ngf, 1, 3, config.dropout, config.seed),
          discriminator(4, config.ndf, config.n_layers),
          generator_optimizer(init_and_collect(generator, config.seed), adam_options(config)),
          discriminator_optimizer(init_and_collect(discriminator, config.seed + 1),
                                  adam_options(config)) {}

    // One step on a batch: gray (N, 1, S, S) and its true colours (N, 3, S, S), both in [-1, 1].
    StepLosses train_step(const Tensor<float, D>& gray, const Tensor<float, D>& colour) {
        generator.train();
        discriminator.train();
        StepLosses losses;

        // Generate.
        Tensor<float, D> fake = generator.forward(gray);

        // Discriminator: real pairs are 1, generated pairs 0. The generated image is detached,
        // so this loss does not reach the generator.
        set_requires_grad(discriminator, true);
        discriminator_optimizer.zero_grad();
        Tensor<float, D> loss_fake =
            bce_with_logits(discriminator.forward(gray, fake.detach()), 0.0f);
        Tensor<float, D> loss_real = bce_with_logits(discriminator.forward(gray, colour), 1.0f);
        Tensor<float, D> loss_d = add(loss_fake, loss_real, 0.5f, 0.5f);
        loss_d.backward();
        discriminator_optimizer.step();

        // Generator: fool the (just updated) discriminator and stay close to the true colours.
        // The discriminator's weights are constants here, so no gradient is computed for them.
        set_requires_grad(discriminator, false);
        generator_optimizer.zero_grad();
        Tensor<float, D> loss_gan = bce_with_logits(discriminator.forward(gray, fake), 1.0f);
        Tensor<float, D> loss_l1 = l1_loss(fake, colour);
        Tensor<float, D> loss_g =
            add(loss_gan, loss_l1, 1.0f, static_cast<float>(config.lambda_l1));
        loss_g.backward();
        generator_optimizer.step();

        losses.d_fake = loss_fake.item();
        losses.d_real = loss_real.item();
        losses.g_gan = loss_gan.item();
        losses.g_l1 = loss_l1.item();
        return losses;
    }

    // The recolouring of gray images; eval mode (running statistics, no dropout) by default.
    Tensor<float, D> recolor(const Tensor<float, D>& gray, bool training_mode = false) {
        NoGradGuard no_grad;
        generator.train(training_mode);
        Tensor<float, D> out = generator.forward(gray);
        generator.train(true);
        return out;
    }

    Pix2PixConfig config;
    Generator<D> generator;
    Discriminator<D> discriminator;
    optim::Adam<float, D> generator_optimizer, discriminator_optimizer;

  private:
    static optim::AdamOptions adam_options(const Pix2PixConfig& c) {
        optim::AdamOptions o;
        o.lr = c.lr;
        o.beta1 = c.beta1;
        o.beta2 = c.beta2;
        return o;
    }
    template <typename M>
    static std::vector<Tensor<float, D>> init_and_collect(M& module, uint64_t seed) {
        nn::init_weights(module, seed);
        return module.parameters();
    }
    static void set_requires_grad(nn::Module<float, D>& module, bool on) {
        for (auto& [name, p] : module.named_parameters()) p.set_requires_grad(on);
    }
};

}  // namespace recolor::detector
