// The whole framework for the CPU: tensor, autograd, operations, layers and Adam. Translation
// units compiled by nvcc with RECOLOR_WITH_CUDA also get the CUDA backend.
#pragma once

#include "recolor/autograd/engine.hpp"
#include "recolor/backend/cpu.hpp"
#include "recolor/core/error.hpp"
#include "recolor/core/log.hpp"
#include "recolor/core/tensor.hpp"
#include "recolor/nn/init.hpp"
#include "recolor/nn/layers.hpp"
#include "recolor/nn/module.hpp"
#include "recolor/ops/activation.hpp"
#include "recolor/ops/arith.hpp"
#include "recolor/ops/batch_norm.hpp"
#include "recolor/ops/conv.hpp"
#include "recolor/ops/dropout.hpp"
#include "recolor/ops/loss.hpp"
#include "recolor/optim/adam.hpp"

#if defined(RECOLOR_WITH_CUDA) && defined(__CUDACC__)
#include "recolor/backend/cuda.hpp"
#endif
