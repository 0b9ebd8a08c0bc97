#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, then train the detector on
# healthy leaves and evaluate it on held-out healthy and diseased ones (`recolor eval`, quick
# preset). Usage: scripts/run.sh [HEALTHY_DIR DISEASED_DIR] [more recolor eval options]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

healthy=${1:-$root/../shared/data/plantvillage/color/Potato___healthy}
diseased=${2:-$root/../shared/data/plantvillage/color/Potato___Early_blight}
shift $(( $# < 2 ? $# : 2 ))
if [[ ! -d "$healthy" || ! -d "$diseased" ]]; then
    cat >&2 <<MSG
run.sh: no leaf images at
  $healthy
  $diseased
PlantVillage (Hughes & Salathé, arXiv:1511.08060; CC BY-SA 3.0) is published at
github.com/spMohanty/PlantVillage-Dataset (raw/color/Potato___healthy, Potato___Early_blight).
Point this command at any two folders of images:
  scripts/run.sh path/to/healthy path/to/diseased
MSG
    exit 2
fi

bash scripts/install-deps.sh
build=${BUILD_DIR:-build/release}
mkdir -p "$(dirname "$build")"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRECOLOR_BUILD_TESTS=OFF -DRECOLOR_BUILD_BENCH=OFF \
    > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target recolor_cli -j "$(nproc)"

out=${OUT_DIR:-runs/eval-quick}
"$build/recolor" eval --healthy "$healthy" --diseased "$diseased" --preset quick --out "$out" "$@"

