#!/usr/bin/env bash
# Installs, from Debian's packages, everything the build, the tests and the benchmarks need.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
    cmake g++ make pkg-config clang-format
    libopenblas-dev libopenblas-openmp-dev  # CPU matrix products (sgemm / dgemm)
    doctest-dev       # tests
    libstb-dev        # image loading, resizing, PNG writing
    libcli11-dev      # command line
    nlohmann-json3-dev
    libbenchmark-dev  # Google Benchmark
)
# Optional, for references and benchmarks: PyTorch (python3-torch, libtorch-dev), scikit-image.
if [[ "${RECOLOR_WITH_TORCH:-0}" == 1 ]]; then
    packages+=(python3-torch libtorch-dev python3-numpy python3-skimage)
fi
# For scripts/fuzz.sh and scripts/sanitize.sh (CI runs both): clang with libFuzzer and its
# sanitizer runtimes, and clang's OpenMP. gcc's AddressSanitizer runtime comes with g++.
if [[ "${RECOLOR_WITH_SANITIZERS:-0}" == 1 ]]; then
    packages+=(clang libclang-rt-dev libomp-dev)
fi
if [[ "${RECOLOR_WITH_BROWSER:-0}" == 1 ]]; then
    packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[[ $(id -u) == 0 ]] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
