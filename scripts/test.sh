#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs every test with ctest.
# Usage: scripts/test.sh [extra cmake arguments]   (BUILD_DIR overrides build/test)
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium too: the report test opens report.html in it (and skips, saying so, without it).
RECOLOR_WITH_BROWSER=${RECOLOR_WITH_BROWSER:-1} bash scripts/install-deps.sh
build=${BUILD_DIR:-build/test}
jobs=$(nproc)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
