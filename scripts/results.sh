#!/usr/bin/env bash
# Reproduces docs/results.md: `recolor eval` with the quick preset for seeds 0-2 on the potato
# set (photos with background) and the segmented strawberry set, timing each run, then one
# table of the metrics. Usage: scripts/results.sh [runs-dir]   (takes about an hour on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${RECOLOR_DATA:-$(pwd)/../shared/data/plantvillage}
runs=${1:-runs/results}
build=${BUILD_DIR:-build/release}

bash scripts/install-deps.sh
mkdir -p "$(dirname "$build")"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRECOLOR_BUILD_TESTS=OFF -DRECOLOR_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target recolor_cli -j "$(nproc)"

run() {  # name healthy diseased seed [extra options]
    local name=$1 healthy=$2 diseased=$3 seed=$4
    shift 4
    local out="$runs/$name-seed$seed"
    if [[ ! -f "$out/metrics.json" ]]; then
        /usr/bin/env time -f "%e" -o "$out.seconds" \
            "$build/recolor" eval --healthy "$healthy" --diseased "$diseased" --preset quick \
            --seed "$seed" --out "$out" "$@" >"$out.log" 2>&1 || { tail "$out.log"; exit 1; }
    fi
}
mkdir -p "$runs"
for seed in 0 1 2; do
    run potato "$data/color/Potato___healthy" "$data/color/Potato___Early_blight" "$seed"
    run strawberry "$data/segmented/Strawberry___healthy" "$data/segmented/Strawberry___Leaf_scorch" "$seed"
done
python3 scripts/results_table.py "$runs"
