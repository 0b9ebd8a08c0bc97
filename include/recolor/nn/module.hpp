// Module: a named tree of parameters (trained), buffers (saved, not trained: batch-norm running
// statistics) and child modules, with a train/eval switch that reaches every child.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "recolor/autograd/engine.hpp"

namespace recolor::nn {

// How init_weights fills a parameter (pix2pix: conv weights normal(0, 0.02), batch-norm
// weights normal(1, 0.02), biases zero).
enum class Init { conv_weight, norm_weight, zero };

template <typename T, typename D = CPU>
class Module {
  public:
    using TensorType = Tensor<T, D>;

    virtual ~Module() = default;
    Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Modules with one input override this; others give their own forward.
    virtual TensorType forward(const TensorType& x) {
        (void)x;
        throw Error("Module::forward(x) is not defined for this module");
    }
    TensorType operator()(const TensorType& x) { return forward(x); }

    void train(bool on = true) {
        training_ = on;
        for (auto& [name, child] : children_) child->train(on);
    }
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // Parameters with dotted names ("down.0.weight"), children's after this module's own.
    std::vector<std::pair<std::string, TensorType>> named_parameters() const {
        std::vector<std::pair<std::string, TensorType>> out;
        collect(out, "", true);
        return out;
    }
    std::vector<std::pair<std::string, TensorType>> named_buffers() const {
        std::vector<std::pair<std::string, TensorType>> out;
        collect(out, "", false);
        return out;
    }
    std::vector<TensorType> parameters() const {
        std::vector<TensorType> out;
        for (auto& [name, t] : named_parameters()) out.push_back(t);
        return out;
    }
    std::vector<std::pair<std::string, Init>> parameter_inits() const {
        std::vector<std::pair<std::string, Init>> out;
        collect_inits(out, "");
        return out;
    }
    long parameter_count() const {
        long n = 0;
        for (auto& [name, t] : named_parameters()) n += t.numel();
        return n;
    }
    void zero_grad() {
        for (auto& [name, t] : named_parameters()) t.zero_grad();
    }

  protected:
    TensorType register_parameter(std::string name, TensorType t, Init init) {
        t.set_requires_grad(true);
        parameters_.push_back({std::move(name), t, init});
        return t;
    }
    TensorType register_buffer(std::string name, TensorType t) {
        buffers_.push_back({std::move(name), t});
        return t;
    }
    template <typename M>
    std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> child) {
        child->train(training_);
        children_.push_back({std::move(name), child});
        return child;
    }

  private:
    struct Parameter {
        std::string name;
        TensorType tensor;
        Init init;
    };
    void collect(std::vector<std::pair<std::string, TensorType>>& out, const std::string& prefix,
                 bool parameters) const {
        if (parameters) {
            for (auto& p : parameters_) out.push_back({prefix + p.name, p.tensor});
        } else {
            for (auto& [name, t] : buffers_) out.push_back({prefix + name, t});
        }
        for (auto& [name, child] : children_) child->collect(out, prefix + name + ".", parameters);
    }
    void collect_inits(std::vector<std::pair<std::string, Init>>& out,
                       const std::string& prefix) const {
        for (auto& p : parameters_) out.push_back({prefix + p.name, p.init});
        for (auto& [name, child] : children_) child->collect_inits(out, prefix + name + ".");
    }

    bool training_ = true;
    std::vector<Parameter> parameters_;
    std::vector<std::pair<std::string, TensorType>> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace recolor::nn
