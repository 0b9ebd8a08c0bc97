#!/usr/bin/env bash
# Reproduces docs/results.md: `recolor eval` with the quick preset for seeds 0-2 on the potato
# set (photos with background) and the segmented strawberry set, timing each run; the same
# models scored in training mode; lambda 10 once; then the tables. Runs already made are kept.
# Usage: scripts/results.sh [runs-dir]   (about 1.5 hours on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${RECOLOR_DATA:-$(pwd)/../shared/data/plantvillage}
runs=${1:-runs/results}
build=${BUILD_DIR:-build/release}

bash scripts/install-deps.sh
mkdir -p "$(dirname "$build")"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRECOLOR_BUILD_TESTS=OFF -DRECOLOR_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target recolor_cli -j "$(nproc)"

run() {  # folder name healthy diseased seed [extra options]
    local dir=$1 name=$2 healthy=$3 diseased=$4 seed=$5
    shift 5
    local out="$dir/$name-seed$seed"
    mkdir -p "$dir"
    if [[ ! -f "$out/metrics.json" ]]; then
        /usr/bin/env time -f "%e" -o "$out.seconds" \
            "$build/recolor" eval --healthy "$healthy" --diseased "$diseased" --preset quick \
            --seed "$seed" --out "$out" "$@" >"$out.log" 2>&1 || { tail "$out.log"; exit 1; }
    fi
}
potato=("$data/color/Potato___healthy" "$data/color/Potato___Early_blight")
strawberry=("$data/segmented/Strawberry___healthy" "$data/segmented/Strawberry___Leaf_scorch")
for seed in 0 1 2; do
    run "$runs" potato "${potato[@]}" "$seed"
    run "$runs" strawberry "${strawberry[@]}" "$seed"
done
# The same models scored in training mode (batch statistics, dropout), as the reference does.
for seed in 0 1 2; do
    run "$runs/trainmode" potato "${potato[@]}" "$seed" --train-mode \
        --model "$runs/potato-seed$seed/model.safetensors"
    run "$runs/trainmode" strawberry "${strawberry[@]}" "$seed" --train-mode \
        --model "$runs/strawberry-seed$seed/model.safetensors"
done
# lambda 10 (the paper's) at the quick preset's size.
run "$runs/lambda10" potato "${potato[@]}" 0 --lambda 10
for dir in "$runs" "$runs/trainmode" "$runs/lambda10"; do
    echo "## $dir"
    python3 scripts/results_table.py "$dir"
done
