// Adam with PyTorch's semantics (torch.optim.Adam): bias-corrected moments, eps added after the
// square root, optional L2 weight decay; one fused update over all parameters per step.
#pragma once

#include <cmath>
#include <vector>

#include "recolor/autograd/engine.hpp"
#include "recolor/ops/math.hpp"

namespace recolor::optim {

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0;
};

template <typename T, typename D = CPU>
class Adam {
  public:
    using TensorType = Tensor<T, D>;

    Adam(std::vector<TensorType> params, AdamOptions options) : options_(options) {
        for (TensorType& p : params) {
            params_.push_back(p);
            exp_avg_.push_back(TensorType::zeros(p.shape()));
            exp_avg_sq_.push_back(TensorType::zeros(p.shape()));
        }
    }

    // One update of every parameter that has a gradient.
    void step() {
        NoGradGuard no_grad;
        ++steps_;
        math::AdamStep update;
        update.beta1 = static_cast<float>(options_.beta1);
        update.beta2 = static_cast<float>(options_.beta2);
        update.one_minus_beta1 = static_cast<float>(1.0 - options_.beta1);
        update.one_minus_beta2 = static_cast<float>(1.0 - options_.beta2);
        update.eps = static_cast<float>(options_.eps);
        update.weight_decay = static_cast<float>(options_.weight_decay);
        update.step_size =
            options_.lr / (1.0 - std::pow(options_.beta1, static_cast<double>(steps_)));
        update.bias_correction2_sqrt =
            std::sqrt(1.0 - std::pow(options_.beta2, static_cast<double>(steps_)));

        std::vector<typename Backend<D>::template AdamSlot<T>> slots;
        for (size_t i = 0; i < params_.size(); ++i) {
            TensorType grad = params_[i].grad();
            if (!grad.defined()) continue;
            slots.push_back({params_[i].data(), grad.data(), exp_avg_[i].data(),
                             exp_avg_sq_[i].data(), params_[i].numel()});
        }
        Backend<D>::adam_step(slots, update);
    }
    void zero_grad() {
        for (TensorType& p : params_) p.zero_grad();
    }

    long steps() const { return steps_; }
    void set_steps(long steps) { steps_ = steps; }
    const AdamOptions& options() const { return options_; }
    // The learning rate from the next step on (a schedule sets it between steps).
    void set_lr(double lr) { options_.lr = lr; }
    const std::vector<TensorType>& exp_avg() const { return exp_avg_; }
    const std::vector<TensorType>& exp_avg_sq() const { return exp_avg_sq_; }

  private:
    AdamOptions options_;
    std::vector<TensorType> params_, exp_avg_, exp_avg_sq_;
    long steps_ = 0;
};

}  // namespace recolor::optim
