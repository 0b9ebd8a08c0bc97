// Tensor<T, Device>: a handle to contiguous NCHW storage plus the autograd record. Copies of a
// handle share storage (parameters held by a module and by an optimiser are the same tensor);
// clone() copies the data. Gradients live on the tensor's impl and accumulate until zero_grad.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "recolor/core/device.hpp"
#include "recolor/core/error.hpp"

namespace recolor {

using Shape = std::vector<long>;

inline long shape_numel(const Shape& shape) {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
}

template <typename T, typename D>
class Tensor;

namespace autograd {

template <typename T, typename D>
struct TensorImpl;

// One recorded operation: the inputs it read and how to turn the output's gradient into theirs.
template <typename T, typename D>
struct Node {
    std::string name;
    std::vector<std::shared_ptr<TensorImpl<T, D>>> inputs;
    std::function<std::vector<Tensor<T, D>>(const Tensor<T, D>& grad_output)> backward;
};

template <typename T, typename D>
struct TensorImpl {
    Shape shape;
    std::shared_ptr<T> storage;
    bool requires_grad = false;
    std::shared_ptr<TensorImpl> grad;
    std::shared_ptr<Node<T, D>> grad_fn;
};

// Whether operations record the graph (off inside a NoGradGuard).
inline bool& grad_mode() {
    thread_local bool enabled = true;
    return enabled;
}

}  // namespace autograd

// Turns graph recording off for its scope: inference, optimiser updates, weight loading.
class NoGradGuard {
  public:
    NoGradGuard() : previous_(autograd::grad_mode()) { autograd::grad_mode() = false; }
    ~NoGradGuard() { autograd::grad_mode() = previous_; }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool previous_;
};

inline bool grad_enabled() {
    return autograd::grad_mode();
}

template <typename T, typename D = CPU>
class Tensor {
  public:
    using Impl = autograd::TensorImpl<T, D>;
    using value_type = T;
    using device_type = D;

    Tensor() = default;
    explicit Tensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

    // Uninitialised storage of the given shape.
    static Tensor empty(const Shape& shape) {
        for (long d : shape)
            RECOLOR_CHECK(d >= 0, "Tensor: negative dimension in " << shape_string(shape));
        auto impl = std::make_shared<Impl>();
        impl->shape = shape;
        size_t n = static_cast<size_t>(shape_numel(shape));
        T* p = static_cast<T*>(Backend<D>::allocate(std::max<size_t>(n, 1) * sizeof(T)));
        impl->storage = std::shared_ptr<T>(p, [](T* q) { Backend<D>::deallocate(q); });
        return Tensor(impl);
    }
    static Tensor full(const Shape& shape, T value) {
        Tensor t = empty(shape);
        Backend<D>::fill(t.data(), t.numel(), value);
        return t;
    }
    static Tensor zeros(const Shape& shape) { return full(shape, T(0)); }
    static Tensor ones(const Shape& shape) { return full(shape, T(1)); }
    static Tensor from_vector(const Shape& shape, const std::vector<T>& values) {
        RECOLOR_CHECK(static_cast<long>(values.size()) == shape_numel(shape),
                      "Tensor::from_vector: shape " << shape_string(shape) << " needs "
                                                    << shape_numel(shape) << " values, found "
                                                    << values.size());
        Tensor t = empty(shape);
        Backend<D>::from_host(t.data(), values.data(), values.size());
        return t;
    }

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return checked().shape; }
    long dim(int i) const {
        const Shape& s = shape();
        if (i < 0) i += static_cast<int>(s.size());
        RECOLOR_CHECK(i >= 0 && i < static_cast<int>(s.size()),
                      "Tensor::dim: no axis " << i << " in shape " << shape_string(s));
        return s[i];
    }
    int rank() const { return static_cast<int>(shape().size()); }
    long numel() const { return shape_numel(shape()); }
    T* data() { return checked().storage.get(); }
    const T* data() const { return checked().storage.get(); }

    // Copies to host memory.
    std::vector<T> to_vector() const {
        std::vector<T> out(static_cast<size_t>(numel()));
        Backend<D>::to_host(out.data(), data(), out.size());
        return out;
    }
    T item() const {
        RECOLOR_CHECK(numel() == 1,
                      "Tensor::item: needs one element, shape is " << shape_string(shape()));
        return to_vector()[0];
    }

    // Copies data into this tensor's existing storage (so every handle sees it).
    void copy_from(const Tensor& other) {
        RECOLOR_CHECK(other.shape() == shape(), "Tensor::copy_from: expected shape "
                                                    << shape_string(shape()) << ", found "
                                                    << shape_string(other.shape()));
        if (other.data() == data()) return;
        Backend<D>::copy(data(), other.data(), static_cast<size_t>(numel()));
    }
    Tensor clone() const {
        Tensor t = empty(shape());
        t.copy_from(*this);
        return t;
    }
    // The same storage seen with another shape of equal size; not recorded by autograd.
    Tensor view(const Shape& shape) const {
        RECOLOR_CHECK(shape_numel(shape) == numel(), "Tensor::view: cannot view "
                                                         << shape_string(this->shape()) << " as "
                                                         << shape_string(shape));
        auto impl = std::make_shared<Impl>();
        impl->shape = shape;
        impl->storage = checked().storage;
        return Tensor(impl);
    }
    // The same data, outside the graph.
    Tensor detach() const { return view(shape()); }

    template <typename D2>
    Tensor<T, D2> to() const {
        if constexpr (std::is_same_v<D, D2>) {
            return *this;
        } else {
            return Tensor<T, D2>::from_vector(shape(), to_vector());
        }
    }

    // Autograd.
    bool requires_grad() const { return checked().requires_grad; }
    Tensor& set_requires_grad(bool on = true) {
        checked().requires_grad = on;
        return *this;
    }
    Tensor grad() const { return Tensor(checked().grad); }
    void zero_grad() { checked().grad.reset(); }
    bool is_leaf() const { return checked().grad_fn == nullptr; }
    void backward() const;  // defined in autograd/engine.hpp

    const std::shared_ptr<Impl>& impl() const { return impl_; }

  private:
    Impl& checked() const {
        RECOLOR_CHECK(impl_ != nullptr, "Tensor: use of an undefined tensor");
        return *impl_;
    }
    std::shared_ptr<Impl> impl_;
};

// Fails, naming the operation, when a tensor's shape differs from the expected one.
inline void check_shape(const char* op, const char* what, const Shape& expected,
                        const Shape& found) {
    RECOLOR_CHECK(expected == found, op << ": " << what << " expected shape "
                                        << shape_string(expected) << ", found "
                                        << shape_string(found));
}

inline void check_rank(const char* op, const char* what, int expected, const Shape& found) {
    RECOLOR_CHECK(static_cast<int>(found.size()) == expected,
                  op << ": " << what << " expected " << expected << " dimensions, found shape "
                     << shape_string(found));
}

}  // namespace recolor
