// Uses an installed recolor: one convolution, one Adam step.
#include <recolor/recolor.hpp>

#include <cstdio>

int main() {
    using namespace recolor;
    nn::Conv2d<float> conv(1, 2, 3, 1, 1);
    nn::init_weights(conv, 0);
    optim::Adam<float> adam(conv.parameters(), {.lr = 1e-3});
    auto x = Tensor<float>::ones({1, 1, 4, 4});
    auto loss = mean(conv(x));
    loss.backward();
    adam.step();
    std::printf("consumer: loss %.6f after %ld step\n", loss.item(), adam.steps());
    return 0;
}
