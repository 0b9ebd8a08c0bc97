// Reverse-mode autograd. An operation whose inputs need gradients records a Node on its output;
// backward() orders the graph topologically and runs each Node once, accumulating into its
// inputs' gradients (leaves keep theirs until zero_grad; intermediate gradients and the graph
// itself are released as soon as they have been used).
#pragma once

#include <algorithm>
#include <unordered_set>

#include "recolor/core/tensor.hpp"

namespace recolor::autograd {

// Whether an operation over these inputs must record itself.
template <typename T, typename D>
bool any_requires_grad(std::initializer_list<const Tensor<T, D>*> inputs) {
    if (!grad_mode()) return false;
    for (const Tensor<T, D>* t : inputs) {
        if (t && t->defined() && t->requires_grad()) return true;
    }
    return false;
}

// Records `backward` on `output`; the returned gradients follow the order of `inputs`.
template <typename T, typename D, typename F>
void record(Tensor<T, D>& output, std::string name,
            std::initializer_list<const Tensor<T, D>*> inputs, F&& backward) {
    auto node = std::make_shared<Node<T, D>>();
    node->name = std::move(name);
    for (const Tensor<T, D>* t : inputs) {
        node->inputs.push_back(t && t->defined() ? t->impl() : nullptr);
    }
    node->backward = std::forward<F>(backward);
    output.impl()->requires_grad = true;
    output.impl()->grad_fn = std::move(node);
}

template <typename T, typename D>
void accumulate(TensorImpl<T, D>& target, Tensor<T, D> grad) {
    check_shape("backward", "gradient", target.shape, grad.shape());
    if (!target.grad) {
        // A gradient some other tensor still holds is copied, never aliased.
        target.grad = grad.impl().use_count() == 1 ? grad.impl() : grad.clone().impl();
        return;
    }
    T* dst = target.grad->storage.get();
    Backend<D>::axpy(static_cast<size_t>(shape_numel(target.shape)), T(1), grad.data(), dst);
}

template <typename T, typename D>
void run_backward(const Tensor<T, D>& root, Tensor<T, D> seed) {
    // Order: depth-first post-order, then reversed, so every node runs after all its consumers.
    // The order holds owning pointers: an intermediate tensor may be owned by its consumer's
    // node alone, which is released as soon as that node has run.
    std::vector<std::shared_ptr<TensorImpl<T, D>>> order;
    std::unordered_set<TensorImpl<T, D>*> seen;
    std::vector<std::pair<std::shared_ptr<TensorImpl<T, D>>, size_t>> stack{{root.impl(), 0}};
    seen.insert(root.impl().get());
    while (!stack.empty()) {
        auto& [impl, next] = stack.back();
        auto& fn = impl->grad_fn;
        if (fn && next < fn->inputs.size()) {
            std::shared_ptr<TensorImpl<T, D>> child = fn->inputs[next++];
            if (child && child->requires_grad && seen.insert(child.get()).second) {
                stack.push_back({child, 0});
            }
            continue;
        }
        order.push_back(impl);
        stack.pop_back();
    }
    std::reverse(order.begin(), order.end());

    accumulate(*root.impl(), std::move(seed));
    for (std::shared_ptr<TensorImpl<T, D>>& impl : order) {
        std::shared_ptr<TensorImpl<T, D>> held = std::move(impl);
        if (!held->grad_fn) continue;
        auto fn = std::move(held->grad_fn);
        if (!held->grad) continue;
        Tensor<T, D> grad_output(held->grad);
        held->grad.reset();
        std::vector<Tensor<T, D>> grads = fn->backward(grad_output);
        RECOLOR_CHECK(grads.size() == fn->inputs.size(),
                      fn->name << ": backward returned " << grads.size() << " gradients for "
                               << fn->inputs.size() << " inputs");
        for (size_t i = 0; i < grads.size(); ++i) {
            auto& input = fn->inputs[i];
            if (input && input->requires_grad && grads[i].defined()) {
                accumulate(*input, std::move(grads[i]));
            }
        }
    }
}

}  // namespace recolor::autograd

namespace recolor {

// Back-propagates from a one-element tensor (a loss), seeding its gradient with 1.
template <typename T, typename D>
void Tensor<T, D>::backward() const {
    RECOLOR_CHECK(numel() == 1, "backward: needs a one-element tensor (a loss), found shape "
                                    << shape_string(shape()));
    RECOLOR_CHECK(requires_grad(), "backward: the tensor does not require grad (nothing to do)");
    autograd::run_backward(*this, Tensor<T, D>::ones(shape()));
}

}  // namespace recolor
