// The layers as modules: Conv2d, ConvTranspose2d, BatchNorm2d, the activations, Dropout, and
// Sequential to chain them. Each holds its parameters and calls the op of the same name.
#pragma once

#include <cstdint>

#include "recolor/nn/module.hpp"
#include "recolor/ops/activation.hpp"
#include "recolor/ops/batch_norm.hpp"
#include "recolor/ops/conv.hpp"
#include "recolor/ops/dropout.hpp"

namespace recolor::nn {

template <typename T, typename D = CPU>
class Conv2d : public Module<T, D> {
  public:
    using TensorType = Tensor<T, D>;
    Conv2d(long in_channels, long out_channels, long kernel, long stride = 1, long padding = 0,
           bool bias = true)
        : stride_(stride), padding_(padding) {
        weight = this->register_parameter(
            "weight", TensorType::zeros({out_channels, in_channels, kernel, kernel}),
            Init::conv_weight);
        if (bias)
            this->bias =
                this->register_parameter("bias", TensorType::zeros({out_channels}), Init::zero);
    }
    TensorType forward(const TensorType& x) override {
        return conv2d(x, weight, bias, stride_, padding_);
    }

    TensorType weight, bias;

  private:
    long stride_, padding_;
};

template <typename T, typename D = CPU>
class ConvTranspose2d : public Module<T, D> {
  public:
    using TensorType = Tensor<T, D>;
    ConvTranspose2d(long in_channels, long out_channels, long kernel, long stride = 1,
                    long padding = 0, bool bias = true)
        : stride_(stride), padding_(padding) {
        weight = this->register_parameter(
            "weight", TensorType::zeros({in_channels, out_channels, kernel, kernel}),
            Init::conv_weight);
        if (bias)
            this->bias =
                this->register_parameter("bias", TensorType::zeros({out_channels}), Init::zero);
    }
    TensorType forward(const TensorType& x) override {
        return conv_transpose2d(x, weight, bias, stride_, padding_);
    }

    TensorType weight, bias;

  private:
    long stride_, padding_;
};

template <typename T, typename D = CPU>
class BatchNorm2d : public Module<T, D> {
  public:
    using TensorType = Tensor<T, D>;
    explicit BatchNorm2d(long channels, double momentum = 0.1, double eps = 1e-5)
        : momentum_(momentum), eps_(eps) {
        weight =
            this->register_parameter("weight", TensorType::ones({channels}), Init::norm_weight);
        bias = this->register_parameter("bias", TensorType::zeros({channels}), Init::zero);
        running_mean = this->register_buffer("running_mean", TensorType::zeros({channels}));
        running_var = this->register_buffer("running_var", TensorType::ones({channels}));
    }
    TensorType forward(const TensorType& x) override {
        return batch_norm2d(x, weight, bias, running_mean, running_var, this->is_training(),
                            momentum_, eps_);
    }

    TensorType weight, bias, running_mean, running_var;

  private:
    double momentum_, eps_;
};

template <typename T, typename D = CPU>
class ReLU : public Module<T, D> {
  public:
    Tensor<T, D> forward(const Tensor<T, D>& x) override { return relu(x); }
};

template <typename T, typename D = CPU>
class LeakyReLU : public Module<T, D> {
  public:
    explicit LeakyReLU(float slope = 0.2f) : slope_(slope) {}
    Tensor<T, D> forward(const Tensor<T, D>& x) override { return leaky_relu(x, slope_); }

  private:
    float slope_;
};

template <typename T, typename D = CPU>
class Tanh : public Module<T, D> {
  public:
    Tensor<T, D> forward(const Tensor<T, D>& x) override { return tanh(x); }
};

// Each forward in training draws a new mask: stream (seed, calls so far).
template <typename T, typename D = CPU>
class Dropout : public Module<T, D> {
  public:
    explicit Dropout(float p = 0.5f, uint64_t seed = 0) : p_(p), seed_(seed) {}
    Tensor<T, D> forward(const Tensor<T, D>& x) override {
        if (!this->is_training()) return x;
        return dropout(x, p_, true, seed_, calls_++);
    }
    uint64_t calls() const { return calls_; }
    void set_calls(uint64_t calls) { calls_ = calls; }

  private:
    float p_;
    uint64_t seed_;
    uint64_t calls_ = 0;
};

template <typename T, typename D = CPU>
class Sequential : public Module<T, D> {
  public:
    template <typename M>
    std::shared_ptr<M> add(std::shared_ptr<M> layer) {
        layers_.push_back(layer);
        return this->register_module(std::to_string(layers_.size() - 1), layer);
    }
    template <typename M, typename... Args>
    std::shared_ptr<M> emplace(Args&&... args) {
        return add(std::make_shared<M>(std::forward<Args>(args)...));
    }
    Tensor<T, D> forward(const Tensor<T, D>& x) override {
        Tensor<T, D> y = x;
        for (auto& layer : layers_) y = layer->forward(y);
        return y;
    }
    size_t size() const { return layers_.size(); }

  private:
    std::vector<std::shared_ptr<Module<T, D>>> layers_;
};

}  // namespace recolor::nn
