// The pix2pix architecture: parameter counts and output sizes as in the reference
// implementation (pytorch-CycleGAN-and-pix2pix: unet_256 with ngf 64 and one input channel;
// the basic PatchGAN with n_layers 3 and four input channels).
#include <doctest/doctest.h>

#include <recolor/detector/pix2pix.hpp>

using namespace recolor;
using namespace recolor::detector;

TEST_SUITE("detector") {
    TEST_CASE("generator parameter count and shape") {
        Generator<> generator(256, 64, 1, 3);
        // 54,411,907: the count PyTorch reports for UnetGenerator(1, 3, 8, 64, BatchNorm2d).
        CHECK(generator.parameter_count() == 54411907);
        Generator<> small(32, 4, 1, 3);
        auto y = small(Tensor<float>::zeros({2, 1, 32, 32}));
        CHECK(y.shape() == Shape{2, 3, 32, 32});
    }

    TEST_CASE("discriminator parameter count and patch map") {
        Discriminator<> discriminator(4, 64, 3);
        // 2,766,657: NLayerDiscriminator(4, 64, 3, BatchNorm2d) in PyTorch.
        CHECK(discriminator.parameter_count() == 2766657);
        Discriminator<> small(4, 8, 3);
        auto logits = small.forward(Tensor<float>::zeros({1, 1, 256, 256}),
                                    Tensor<float>::zeros({1, 3, 256, 256}));
        CHECK(logits.shape() == Shape{1, 1, 30, 30});
    }
}
