#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: image loading and checkpoint loading) with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer in build/fuzz, writes a fresh seed corpus, and
# runs each target for a bounded time. Fails on the first finding; its input is kept in
# build/fuzz/findings/<target>/ and can be replayed with `build/fuzz/fuzz/<target>_fuzzer FILE`.
# Usage: scripts/fuzz.sh [seconds per target, default 60]   (BUILD_DIR overrides build/fuzz;
# FUZZ_SEED sets libFuzzer's random seed, so that a run can be repeated: .ci/run fixes it, and
# left unset each run explores anew)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
seed=${FUZZ_SEED:-0}  # 0: libFuzzer draws one
build=${BUILD_DIR:-build/fuzz}

# Tools: clang, its libFuzzer and sanitizer runtimes, and its OpenMP (Debian packages).
RECOLOR_WITH_SANITIZERS=1 bash scripts/install-deps.sh

# Build.
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRECOLOR_BUILD_FUZZERS=ON -DRECOLOR_BUILD_TESTS=OFF -DRECOLOR_BUILD_EXAMPLES=OFF \
    -DRECOLOR_BUILD_BENCH=OFF -DRECOLOR_CUDA=OFF -DRECOLOR_NATIVE=OFF > "$build/configure.log" \
    || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target image_fuzzer checkpoint_fuzzer make_fuzz_seeds

# Corpus: seeds written now; what a run adds goes to a separate folder, dropped next time.
rm -rf "$build/corpus" "$build/findings"
"$build/fuzz/make_fuzz_seeds" "$build/corpus/seeds"

# Run: each target for $seconds, one process; a crash, sanitizer report, leak, timeout (10 s
# for one input) or use of over 2 GiB ends the run with a non-zero status.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for target in image checkpoint; do
    mkdir -p "$build/corpus/$target" "$build/findings/$target"
    echo "fuzz: $target for ${seconds}s"
    "$build/fuzz/${target}_fuzzer" -max_total_time="$seconds" -seed="$seed" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$build/findings/$target/" -print_final_stats=1 \
        "$build/corpus/$target" "$build/corpus/seeds/$target" 2> "$build/findings/$target.log" \
        || { tail -n 60 "$build/findings/$target.log"; echo "fuzz: $target FAILED"; exit 1; }
    grep -E "^stat::number_of_executed_units|^Done" "$build/findings/$target.log" || true
    echo "fuzz: $target passed"
done
