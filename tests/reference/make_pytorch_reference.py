#!/usr/bin/python3
"""Writes tests/reference/pytorch_reference.hpp: PyTorch's answers for fixed small inputs.

Run once, with Debian's PyTorch (python3-torch), from the repository root:

    /usr/bin/python3 tests/reference/make_pytorch_reference.py

Inputs come from a formula, value(i) = amplitude * sin(0.37 i + phase), rounded to float32, and
are stored in the header beside the results, so the C++ tests read exactly what PyTorch read.
The operations are evaluated in float64 on those float32 values (the exact answer the float
C++ code must approach); Adam runs in float32, as torch.optim.Adam does on float parameters.
"""
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

ARRAYS = []  # (name, shape, values)


def inputs(shape, phase, amplitude=1.0, offset=0.0):
    n = int(np.prod(shape))
    v = [offset + amplitude * math.sin(0.37 * i + phase) for i in range(n)]
    return torch.tensor(v, dtype=torch.float32).reshape(shape)


def emit(name, t):
    t = t.detach()
    ARRAYS.append((name, list(t.shape), t.reshape(-1).to(torch.float64).tolist()))


def d(t):
    """float64 copy of a float32 tensor, a leaf that records gradients."""
    return t.to(torch.float64).requires_grad_(True)


def operations():
    # conv2d: bias, stride 2, padding 1.
    x, w, b = inputs((2, 3, 5, 5), 0.1), inputs((4, 3, 3, 3), 0.7, 0.5), inputs((4,), 1.3)
    for name, t in (("conv2d_x", x), ("conv2d_w", w), ("conv2d_b", b)):
        emit(name, t)
    emit("conv2d_y", F.conv2d(d(x), d(w), d(b), stride=2, padding=1))

    # conv_transpose2d: weight (C_in, C_out, k, k), bias, stride 2, padding 1.
    x, w, b = inputs((2, 3, 3, 3), 0.2), inputs((3, 2, 4, 4), 0.9, 0.5), inputs((2,), 1.7)
    for name, t in (("convt_x", x), ("convt_w", w), ("convt_b", b)):
        emit(name, t)
    emit("convt_y", F.conv_transpose2d(d(x), d(w), d(b), stride=2, padding=1))

    # batch_norm2d: training (batch statistics, running stats moved by momentum 0.1 towards
    # the unbiased variance) and eval (running statistics).
    x = inputs((2, 3, 4, 4), 0.3, 2.0, 0.5)
    w, b = inputs((3,), 0.4, 0.5, 1.0), inputs((3,), 2.1, 0.3)
    rm, rv = inputs((3,), 1.1, 0.2), inputs((3,), 0.6, 0.4, 1.2)
    for name, t in (("bn_x", x), ("bn_w", w), ("bn_b", b), ("bn_rm", rm), ("bn_rv", rv)):
        emit(name, t)
    rm64, rv64 = rm.to(torch.float64), rv.to(torch.float64)
    y = F.batch_norm(d(x), rm64, rv64, d(w), d(b), training=True, momentum=0.1, eps=1e-5)
    emit("bn_train_y", y)
    emit("bn_train_rm", rm64)
    emit("bn_train_rv", rv64)
    y = F.batch_norm(d(x), rm.to(torch.float64), rv.to(torch.float64), d(w), d(b),
                     training=False, momentum=0.1, eps=1e-5)
    emit("bn_eval_y", y)

    # Activations.
    x = inputs((2, 3, 2, 2), 0.5, 3.0)
    emit("act_x", x)
    emit("act_relu", F.relu(d(x)))
    emit("act_leaky", F.leaky_relu(d(x), 0.2))
    emit("act_tanh", torch.tanh(d(x)))
    emit("act_sigmoid", torch.sigmoid(d(x)))

    # Losses (means over all elements); BCE also at logits far beyond exp's float range.
    x, t = inputs((2, 3, 4, 4), 0.8, 2.0), inputs((2, 3, 4, 4), 1.9)
    z = inputs((2, 3, 4, 4), 2.6, 0.5, 0.5)  # targets in [0, 1]
    for name, v in (("loss_x", x), ("loss_t", t), ("loss_z", z)):
        emit(name, v)
    emit("loss_l1", F.l1_loss(d(x), d(t)).reshape(1))
    emit("loss_mse", F.mse_loss(d(x), d(t)).reshape(1))
    emit("loss_bce", F.binary_cross_entropy_with_logits(d(x), d(z)).reshape(1))
    big = torch.tensor([100, -100, 100, -100, 100, -100, 50, -50, 0, 30, -30, 88, -88, 1000],
                       dtype=torch.float32)
    big_z = torch.tensor([1, 0, 0, 1, 0.3, 0.7, 0.5, 0.5, 1, 0, 1, 0.25, 0.75, 0],
                         dtype=torch.float32)
    emit("bce_big_x", big)
    emit("bce_big_z", big_z)
    xb = d(big)
    loss = F.binary_cross_entropy_with_logits(xb, big_z.to(torch.float64))
    loss.backward()
    emit("bce_big_loss", loss.reshape(1))
    emit("bce_big_grad", xb.grad)
    ones = torch.ones_like(d(x))
    emit("bce_ones_loss", F.binary_cross_entropy_with_logits(d(x), ones).reshape(1))


def chain():
    # conv (no bias) -> batch norm (training) -> leaky ReLU 0.2 -> transposed conv -> tanh -> L1.
    x, target = inputs((2, 2, 6, 6), 0.15), inputs((2, 2, 6, 6), 2.3, 0.8)
    w1, w2 = inputs((3, 2, 4, 4), 0.45, 0.3), inputs((3, 2, 4, 4), 1.05, 0.3)
    g, beta, b2 = inputs((3,), 0.25, 0.3, 1.0), inputs((3,), 1.45, 0.2), inputs((2,), 2.75, 0.1)
    leaves = {"x": x, "w1": w1, "g": g, "beta": beta, "w2": w2, "b2": b2}
    for name, t in list(leaves.items()) + [("target", target)]:
        emit("chain_" + name, t)
    p = {name: d(t) for name, t in leaves.items()}
    h = F.conv2d(p["x"], p["w1"], None, stride=2, padding=1)
    h = F.batch_norm(h, None, None, p["g"], p["beta"], training=True, eps=1e-5)
    h = F.leaky_relu(h, 0.2)
    h = torch.tanh(F.conv_transpose2d(h, p["w2"], p["b2"], stride=2, padding=1))
    loss = F.l1_loss(h, target.to(torch.float64))
    loss.backward()
    emit("chain_loss", loss.reshape(1))
    for name in leaves:
        emit("chain_grad_" + name, p[name].grad)


def adam():
    # Three steps of torch.optim.Adam (float32, lr 0.01) on loss = mse(p, t) + l1(q, u), without
    # and with weight decay 0.1.
    p0, t = inputs((2, 3), 0.35, 1.5), inputs((2, 3), 1.2, 0.5)
    q0, u = inputs((4,), 2.2, 0.8), inputs((4,), 0.6, 0.8, 0.3)
    assert (q0 - u).abs().min() > 0.1, "q stays on one side of u for three steps"
    for name, v in (("adam_p0", p0), ("adam_t", t), ("adam_q0", q0), ("adam_u", u)):
        emit(name, v)
    for case, wd in (("adam", 0.0), ("adam_wd", 0.1)):
        p, q = p0.clone().requires_grad_(True), q0.clone().requires_grad_(True)
        opt = torch.optim.Adam([p, q], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
        for step in range(1, 4):
            opt.zero_grad()
            loss = F.mse_loss(p, t) + F.l1_loss(q, u)
            loss.backward()
            opt.step()
            emit(f"{case}_p{step}", p)
            emit(f"{case}_q{step}", q)
        # The moments after three steps: exp_avg (m) and exp_avg_sq (v) of each parameter.
        for name, param in (("p", p), ("q", q)):
            emit(f"{case}_m_{name}", opt.state[param]["exp_avg"])
            emit(f"{case}_v_{name}", opt.state[param]["exp_avg_sq"])
    # A gradient of 1e-8, three steps with lr 1e-4, default eps and a tiny eps.
    for case, eps in (("tiny_default_eps", 1e-8), ("tiny_eps_1e12", 1e-12)):
        p = torch.ones(1, requires_grad=True)
        opt = torch.optim.Adam([p], lr=1e-4, eps=eps)
        values = []
        for _ in range(3):
            opt.zero_grad()
            p.grad = torch.full((1,), 1e-8)
            opt.step()
            values.append(p.item())
        emit(case, torch.tensor(values, dtype=torch.float32))


def literal(v):
    """The shortest C++ float literal that reads back as this float32 value."""
    text = str(np.float32(v))
    assert math.isfinite(v), "references are finite"
    return text + ("f" if ("." in text or "e" in text) else ".0f")


def debian_version(package):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write(path):
    lines = [
        "// Generated by tests/reference/make_pytorch_reference.py; do not edit.",
        "// Command: /usr/bin/python3 tests/reference/make_pytorch_reference.py",
        f"// PyTorch {torch.__version__} "
        f"(Debian python3-torch {debian_version('python3-torch')}),",
        f"// NumPy {np.__version__}, Python {sys.version.split()[0]}.",
        "// Operations in float64 on float32 inputs; Adam in float32.",
        "#pragma once",
        "",
        "#include <vector>",
        "",
        "namespace recolor::reference {",
        "",
    ]
    for name, shape, values in ARRAYS:
        dims = ", ".join(str(s) for s in shape)
        lines.append(f"// shape ({dims})")
        body = ", ".join(literal(v) for v in values)
        lines.append(f"inline const std::vector<float> {name} = {{{body}}};")
        lines.append(f"inline const std::vector<long> {name}_shape = {{{dims}}};")
        lines.append("")
    lines.append("}  // namespace recolor::reference")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    # Formatted as the repository's .clang-format says, where clang-format is installed.
    if shutil.which("clang-format"):
        subprocess.run(["clang-format", "-i", path], check=True)


if __name__ == "__main__":
    torch.manual_seed(0)
    operations()
    chain()
    adam()
    write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_reference.hpp"))
