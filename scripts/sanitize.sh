#!/usr/bin/env bash
# Builds the CPU test suite, the recolor program and the example with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc) in build/asan, and runs ctest there. Any report fails the
# run: UBSan does not recover, and ASan aborts on the first error.
# Usage: scripts/sanitize.sh [extra ctest arguments]   (BUILD_DIR overrides build/asan)
set -euo pipefail
cd "$(dirname "$0")/.."

RECOLOR_WITH_SANITIZERS=1 bash scripts/install-deps.sh
build=${BUILD_DIR:-build/asan}
jobs=$(nproc)
sanitizers="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECOLOR_CUDA=OFF \
    -DRECOLOR_BUILD_BENCH=OFF -DRECOLOR_NATIVE=OFF \
    -DCMAKE_CXX_FLAGS="$sanitizers" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build "$build" -j "$jobs" --target recolor_tests recolor_cli tiny_network

# Not run here: the install-and-consume test (it builds a separate, unsanitized project) and the
# format check; scripts/test.sh runs both.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j "$jobs" -E "^(install_consumer|clang_format)$" "$@"
