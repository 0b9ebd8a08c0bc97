// A small network trained for one step: forward, L1 loss, backward, one Adam update.
#include <cstdio>
#include <recolor/recolor.hpp>

using namespace recolor;

int main() {
    nn::Sequential<float> net;  // 3 -> 8 -> 3 channels, same spatial size
    net.emplace<nn::Conv2d<float>>(3, 8, 3, 1, 1);
    net.emplace<nn::BatchNorm2d<float>>(8);
    net.emplace<nn::LeakyReLU<float>>(0.2f);
    net.emplace<nn::Conv2d<float>>(8, 3, 3, 1, 1);
    nn::init_weights(net, 42);  // pix2pix's normal(0, 0.02), seeded
    optim::Adam<float> adam(net.parameters(), {.lr = 2e-4, .beta1 = 0.5});

    auto input = Tensor<float>::full({2, 3, 16, 16}, 0.5f);
    auto target = Tensor<float>::zeros({2, 3, 16, 16});
    Tensor<float> loss = l1_loss(net(input), target);
    loss.backward();
    adam.step();

    float after = l1_loss(net(input), target).item();
    std::printf("L1 loss %.6f, after one Adam step %.6f\n", loss.item(), after);
}
