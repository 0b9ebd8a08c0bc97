#!/usr/bin/env bash
# Builds the benchmarks in Release, runs recolor_bench (every case on recolor and on its
# LibTorch twin, in one binary) and writes the generated section of docs/benchmarks.md and
# docs/bench-results.json beside it.
# Usage: scripts/bench.sh [--quick] [Google Benchmark arguments, e.g. --benchmark_filter=conv/]
#   --quick   0.05 s per case, no repetitions: checks that every case runs; rough figures
#   (default) 1 s per case, 3 repetitions, medians
# BUILD_DIR overrides build/bench.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
if [[ ${1:-} == --quick ]]; then
    mode=quick
    shift
fi
command="scripts/bench.sh"
[[ $mode == quick ]] && command+=" --quick"
(($# > 0)) && command+=" $*"
build=${BUILD_DIR:-build/bench}

# Build, with Debian's LibTorch for the twins.
RECOLOR_WITH_TORCH=1 bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRECOLOR_BUILD_TESTS=OFF \
    -DRECOLOR_BUILD_EXAMPLES=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$build" --target recolor_bench -j "$(nproc)"

# Run.
raw="$build/bench-results.raw.json"
args=(--benchmark_out="$raw" --benchmark_out_format=json --benchmark_counters_tabular=true)
if [[ $mode == quick ]]; then
    args+=(--benchmark_min_time=0.05)
else
    args+=(--benchmark_min_time=1 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
fi
"$build/bench/recolor_bench" "${args[@]}" "$@"

# Report: the compile flags of recolor's side, and LibTorch's version.
flags=$(python3 - "$build" <<'PY'
import json, shlex, sys
for entry in json.load(open(sys.argv[1] + "/compile_commands.json")):
    if entry["file"].endswith("bench/recolor_bench.cpp"):
        words = shlex.split(entry["command"])[1:]
        keep = [w for w in words if w.startswith(("-O", "-f", "-m", "-std", "-DNDEBUG"))]
        print(" ".join(keep))
PY
)
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
torch=$(dpkg-query -W -f='libtorch-dev ${Version}' libtorch-dev 2>/dev/null || echo "not found")
python3 bench/report.py --raw "$raw" --markdown docs/benchmarks.md --json docs/bench-results.json \
    --mode "$mode" --command "$command" --flags "$($compiler --version | head -1) $flags" \
    --torch "$torch"
echo "bench.sh: wrote docs/benchmarks.md and docs/bench-results.json"
