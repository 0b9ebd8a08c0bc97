#!/usr/bin/env bash
# Formats every C++ and CUDA source in place with the repository's .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
find include kernels examples bench tests \( -name '*.hpp' -o -name '*.cpp' -o -name '*.cu' \
    -o -name '*.cuh' \) -print0 | xargs -0 clang-format -i
